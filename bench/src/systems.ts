import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { serverNodeFlags } from '@collab/app-server'
import { serverCli } from '@collab/test-support'
import type { ClientFlavour } from './client.js'

/** The servers under test and the floor. */
export type SystemId = 'ours' | 'y-websocket-server' | 'hocuspocus' | 'ws-relay'

/** The systems compared in every workload, in the order they run within a round (A B C A B C). */
export const comparedSystems: readonly SystemId[] = ['ours', 'y-websocket-server', 'hocuspocus']

/** How to start one system as its own process, and how clients talk to it. */
export interface SystemSpec {
  id: SystemId
  /** Shown in tables and the chart. */
  label: string
  client: ClientFlavour
  /** The script node runs. */
  entry: string
  /** Node.js flags the system is shipped to run with (ours: those `npm start` and the Docker image pass). */
  nodeFlags?: readonly string[]
  args(port: number, dataDir: string): string[]
  env(port: number, dataDir: string): Record<string, string>
  /** A line the process prints once it accepts connections. */
  ready: RegExp
  /** Has durable storage (the floor has none). */
  persistent: boolean
  /** Reports its loaded documents at GET /healthz (ours) rather than through the probe. */
  healthz?: boolean
}

const here = dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)
/** The stock server of @y/websocket-server 0.1.1 (its `y-websocket-server` bin). */
const yWebsocketServerEntry = join(dirname(require.resolve('@y/websocket-server/package.json')), 'src/server.js')

const yWebsocket = { protocol: 'y-websocket', hello: false, handshake: true } as const

/** Ours on loopback with its data directory, logging only warnings, and `extra` arguments. */
function oursArgs(extra: readonly string[]): SystemSpec['args'] {
  return (port, dataDir) => [
    ...['--host', '127.0.0.1', '--port', String(port), '--data', dataDir],
    // warn: the peers log nothing per connection either.
    ...['--log-level', process.env.BENCH_OURS_LOG_LEVEL ?? 'warn'],
    ...extra,
  ]
}

export const systems: Record<SystemId, SystemSpec> = {
  ours: {
    id: 'ours',
    label: 'ours',
    client: { protocol: 'y-websocket', hello: true, handshake: true },
    entry: serverCli,
    nodeFlags: serverNodeFlags,
    // All load comes from one address and one client sends a whole trace at once: the per-connection rate limits
    // and the per-address connection limit (which the peers do not have) would measure the limiter, not the server.
    // Raised, not removed: every message still goes through the limiter.
    args: oursArgs([
      ...['--messages-per-second', '1000000000', '--bytes-per-second', '1000000000000'],
      ...['--connections-per-address', '1000000'],
    ]),
    env: () => ({}),
    ready: /listening on http:\/\//,
    persistent: true,
    healthz: true,
  },
  'y-websocket-server': {
    id: 'y-websocket-server',
    label: 'y-websocket-server',
    client: yWebsocket,
    entry: yWebsocketServerEntry,
    args: () => [],
    env: (port, dataDir) => ({ HOST: '127.0.0.1', PORT: String(port), YPERSISTENCE: dataDir }),
    ready: /running at/,
    persistent: true,
  },
  hocuspocus: {
    id: 'hocuspocus',
    label: 'hocuspocus',
    client: { protocol: 'hocuspocus', hello: false, handshake: true },
    entry: join(here, 'peers/hocuspocus-server.js'),
    args: () => [],
    env: (port, dataDir) => ({ HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir }),
    ready: /listening on ws:\/\//,
    persistent: true,
  },
  'ws-relay': {
    id: 'ws-relay',
    label: 'raw ws relay (floor)',
    client: { protocol: 'y-websocket', hello: false, handshake: false },
    entry: join(here, 'peers/ws-relay.js'),
    args: () => [],
    env: (port) => ({ HOST: '127.0.0.1', PORT: String(port) }),
    ready: /listening on ws:\/\//,
    persistent: false,
  },
}

/**
 * Ours with its default limits (20,000 messages/s with bursts of 5,000 per connection, 64 connections per address):
 * for the workloads that measure what those limits do to a fast client and to the others beside a flood.
 */
export const oursWithDefaultLimits: SystemSpec = { ...systems.ours, args: oursArgs([]) }
