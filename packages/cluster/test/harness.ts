import { type ChildProcess, spawn } from 'node:child_process'
import { type AddressInfo, createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { CollabProvider } from '@collab/provider'
import { createSyncServer, type SyncServer, type SyncServerOptions } from '@collab/server'
import { PostgresDocStore } from '@collab/storage'
import { type PostgresServer, type RedisServer, startPostgres, startRedis } from '@collab/test-services'
import { listeningUrl, listenOnLoopback, type Teardown } from '@collab/test-support'
import { pino } from 'pino'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { RedisDocRelay, type RedisDocRelayOptions } from '../src/index.js'

export { Teardown, waitFor } from '@collab/test-support'

/** How long the tests here wait for anything that crosses instances: Redis and PostgreSQL add their own delays. */
export const crossInstanceMs = 10_000

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Redis and PostgreSQL of this test file's own, stopped by `teardown`. */
export interface Services {
  redis: RedisServer
  postgres: PostgresServer
  databaseUrl: string
}

export async function startServices(teardown: Teardown): Promise<Services> {
  const [redis, postgres] = await Promise.all([startRedis(), startPostgres()])
  teardown.defer(() => redis.close())
  teardown.defer(() => postgres.close())
  return { redis, postgres, databaseUrl: await postgres.createDatabase('cluster_test') }
}

/** Test timings: the engine's defaults are for real networks; these keep failure tests within seconds. */
export const testSyncTimings = { pingIntervalMs: 1_000, connectionTimeoutMs: 4_000, roomGraceMs: 1_000 }

/** A server instance in this process: its own store handle, relay and HTTP server, sharing Redis and PostgreSQL. */
export interface Instance {
  id: string
  url: string
  sync: SyncServer
  relay: RedisDocRelay
  store: PostgresDocStore
  close(): Promise<void>
}

export async function startInstance(
  services: Services,
  id: string,
  teardown: Teardown,
  options: { relay?: Partial<RedisDocRelayOptions>; sync?: Partial<SyncServerOptions> } = {},
): Promise<Instance> {
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }).child({ instance: id })
  const store = await PostgresDocStore.open({ connectionString: services.databaseUrl, queryTimeoutMs: 5_000 })
  const relay = await RedisDocRelay.open({ url: services.redis.url, instanceId: id, logger, ...options.relay })
  const sync = createSyncServer({ store, relay, logger, ...testSyncTimings, ...options.sync })
  const server = await listenOnLoopback(sync)
  let closing: Promise<void> | null = null
  const instance: Instance = {
    id,
    url: server.url,
    sync,
    relay,
    store,
    close() {
      closing ??= (async () => {
        await server.close()
        await relay.close()
        await store.close()
      })()
      return closing
    },
  }
  teardown.defer(() => instance.close())
  return instance
}

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures')

/** A server instance as a child process (test/fixtures/instance.mjs), for `kill -9`. */
export interface InstanceProcess {
  id: string
  port: number
  url: string
  child: ChildProcess
  output: string[]
  /** Sends `signal` and resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>
}

export function spawnInstance(services: Services, id: string, teardown: Teardown): Promise<InstanceProcess> {
  const child = spawn(process.execPath, [join(fixtures, 'instance.mjs')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      REDIS_URL: services.redis.url,
      DATABASE_URL: services.databaseUrl,
      INSTANCE_ID: id,
      SYNC_TIMINGS: JSON.stringify(testSyncTimings),
    },
  })
  const output: string[] = []
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    await exited
  }
  teardown.defer(() => kill('SIGKILL'))
  createInterface({ input: child.stderr! }).on('line', (line) => output.push(line))
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line)
      const url = listeningUrl([line])
      if (url === undefined) return
      const port = Number(new URL(url).port)
      resolve({ id, port, url: `ws://127.0.0.1:${port}`, child, output, kill })
    })
    void exited.then(() => reject(new Error(`instance ${id} exited before listening:\n${output.join('\n')}`)))
  })
}

/**
 * A TCP front for several instances, like a load balancer with passive health checks: each new connection goes
 * to the first upstream (in this proxy's order) that accepts it, so when one instance dies, reconnecting clients
 * land on the next.
 */
export class FailoverProxy {
  private readonly server: Server
  private readonly sockets = new Set<Socket>()
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>()
  private frozen = false

  private constructor(private readonly upstreams: readonly number[]) {
    this.server = createServer((client) => this.accept(client))
  }

  static async start(upstreams: readonly number[], teardown: Teardown): Promise<{ proxy: FailoverProxy; url: string }> {
    const proxy = new FailoverProxy(upstreams)
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve))
    teardown.defer(() => proxy.close())
    return { proxy, url: `ws://127.0.0.1:${(proxy.server.address() as AddressInfo).port}` }
  }

  private accept(client: Socket): void {
    this.sockets.add(client)
    client.once('close', () => this.sockets.delete(client))
    client.on('error', () => client.destroy())
    client.pause()
    const attempt = (index: number) => {
      const port = this.upstreams[index]
      if (port === undefined) {
        client.destroy()
        return
      }
      const upstream = tcpConnect(port, '127.0.0.1')
      let connected = false
      upstream.on('error', () => {
        upstream.destroy()
        // Refused: this instance is down, try the next one. After connecting: the client's connection is lost.
        if (connected) client.destroy()
        else attempt(index + 1)
      })
      upstream.once('connect', () => {
        connected = true
        this.sockets.add(upstream)
        const pair = { client, upstream }
        this.pairs.add(pair)
        upstream.once('close', () => {
          this.sockets.delete(upstream)
          this.pairs.delete(pair)
          client.destroy()
        })
        client.once('close', () => {
          if (!this.frozen) upstream.destroy()
        })
        client.pipe(upstream)
        upstream.pipe(client)
        client.resume()
      })
    }
    attempt(0)
  }

  /**
   * Stops forwarding anything on the open connections, closes included, as when a client's network dies: the
   * server hears nothing more and has to find out by itself.
   */
  freeze(): void {
    this.frozen = true
    for (const { client, upstream } of this.pairs) {
      client.unpipe(upstream)
      upstream.unpipe(client)
      upstream.pause()
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

/** A collab client (the real provider) in Node, recording its connections and close codes. */
export interface TestClient {
  name: string
  doc: Y.Doc
  text: Y.Text
  provider: CollabProvider
  /** WebSocket opens so far (1 = never reconnected). */
  opens: number
  closeCodes: number[]
  /** Tokens typed by {@link typeToken}, and how many of them the server had acknowledged as stored. */
  typed: string[]
  acknowledged: number
  destroy(): void
}

export function connectClient(serverUrl: string, docName: string, name: string, teardown: Teardown): TestClient {
  const doc = new Y.Doc()
  const client = { name, doc, text: doc.getText('codemirror'), opens: 0, closeCodes: [] as number[] } as TestClient
  // The provider takes a WHATWG WebSocket class; `ws` implements what it uses. Each client records its own sockets.
  class RecordingWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols)
      this.on('open', () => client.opens++)
      this.on('close', (code) => client.closeCodes.push(code))
    }
  }
  client.typed = []
  client.acknowledged = 0
  client.provider = new CollabProvider({
    serverUrl,
    docName,
    doc,
    WebSocketImpl: RecordingWebSocket as unknown as typeof globalThis.WebSocket,
    backoff: { baseMs: 200, maxMs: 1_000 },
  })
  client.provider.onStatus((status) => {
    // "Saved" means every change made so far is stored.
    if (!status.unsaved) client.acknowledged = client.typed.length
  })
  client.provider.awareness.setLocalState({ name })
  let destroyed = false
  client.destroy = () => {
    if (destroyed) return
    destroyed = true
    client.provider.destroy()
    doc.destroy()
  }
  teardown.defer(() => client.destroy())
  return client
}

/** Appends a unique token at the end of the client's text. */
export function typeToken(client: TestClient): string {
  const token = `${client.name}${client.typed.length};`
  client.typed.push(token)
  client.text.insert(client.text.length, token)
  return token
}

/** Types a token on every client every `intervalMs` until the returned function is called. */
export function keepTyping(clients: readonly TestClient[], intervalMs: number): () => void {
  const timer = setInterval(() => {
    for (const client of clients) typeToken(client)
  }, intervalMs)
  return () => clearInterval(timer)
}

/** Whether every client has the same text and it holds every token any of them typed. */
export function converged(clients: readonly TestClient[]): boolean {
  const text = clients[0]?.text.toString()
  return clients.every((client) => client.text.toString() === text) && missingTokens(text ?? '', clients).length === 0
}

/** The tokens typed by `clients` that `text` lacks. */
export function missingTokens(text: string, clients: readonly TestClient[], acknowledgedOnly = false): string[] {
  return clients.flatMap((client) =>
    client.typed.slice(0, acknowledgedOnly ? client.acknowledged : undefined).filter((token) => !text.includes(token)),
  )
}

/** The text stored in PostgreSQL for a document, read through a store of its own. */
export async function storedText(databaseUrl: string, docName: string): Promise<string> {
  const store = await PostgresDocStore.open({ connectionString: databaseUrl })
  try {
    const doc = new Y.Doc()
    for (const update of await store.load(docName)) Y.applyUpdate(doc, update)
    const text = doc.getText('codemirror').toString()
    doc.destroy()
    return text
  } finally {
    await store.close()
  }
}

/** Prints a measured figure so that it shows in the test output (and in CI logs). */
export function report(what: string, ms: number): void {
  console.log(`[measured] ${what}: ${ms} ms`)
}
