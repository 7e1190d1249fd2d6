import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { listeningUrl, Teardown, waitFor } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'

const cliPath = resolve(dirname(fileURLToPath(import.meta.url)), '../dist/cli.js')

const teardown = new Teardown()
afterEach(() => teardown.run())

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'collab-cli-test-'))
  teardown.defer(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A running `cli.js` child process with its output so far. */
interface CliProcess {
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves with the exit code (or the signal name) once the process ended. */
  exited: Promise<number | string>
}

function runCli(args: string[], env: Record<string, string> = {}): CliProcess {
  // The settings come from the arguments and `env` only, whatever the environment running the tests sets.
  const inherited = { ...process.env }
  for (const name of ['HOST', 'PORT', 'DATA_DIR', 'LOG_LEVEL', 'WEB_ROOT']) delete inherited[name]
  const child = spawn(process.execPath, [cliPath, ...args], {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1))
  })
  teardown.defer(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  return { child, stdout: () => stdout, stderr: () => stderr, exited }
}

/** Starts the server and resolves with its base URL once it announced it. */
async function startCli(args: string[], env: Record<string, string> = {}): Promise<{ cli: CliProcess; url: string }> {
  const cli = runCli(args, env)
  let url: string | undefined
  await waitFor(
    () => `the listening line; stdout: ${cli.stdout()} stderr: ${cli.stderr()}`,
    () => {
      url ??= listeningUrl(cli.stdout())
      return url !== undefined || cli.child.exitCode !== null
    },
    10_000,
  )
  if (url === undefined) throw new Error(`the server exited early: ${cli.stderr()}`)
  return { cli, url }
}

/** A stock y-websocket client (Node needs `ws` as its WebSocket, STACK.md trap 7), destroyed after the test. */
function connectStock(httpUrl: string, docName: string): { doc: Y.Doc; provider: WebsocketProvider; destroy(): void } {
  const doc = new Y.Doc()
  // ws implements the parts of the WHATWG WebSocket the provider uses; its types lack dispatchEvent.
  const polyfill = WebSocket as unknown as NonNullable<
    NonNullable<ConstructorParameters<typeof WebsocketProvider>[3]>['WebSocketPolyfill']
  >
  const provider = new WebsocketProvider(httpUrl.replace(/^http/, 'ws'), docName, doc, {
    WebSocketPolyfill: polyfill,
    disableBc: true,
  })
  let destroyed = false
  const destroy = () => {
    if (destroyed) return
    destroyed = true
    // provider.destroy() leaves the awareness interval running; doc.destroy() stops it (STACK.md trap 8).
    provider.destroy()
    doc.destroy()
  }
  teardown.defer(destroy)
  return { doc, provider, destroy }
}

interface DocsResponse {
  docs: Array<{ name: string; bytes: number; records: number; updatedAt: number }>
}

describe('collab-server CLI', () => {
  it('serves health, documents and WebSocket sync, and keeps the data across SIGTERM and a restart', async () => {
    const dataDir = tempDir()
    const { cli, url } = await startCli(['--port', '0', '--data', dataDir, '--log-level', 'info'])
    // No --host: the default.
    expect(new URL(url).hostname).toBe('localhost')

    const health = await fetch(`${url}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ status: 'ok', rooms: 0, connections: 0 })
    const empty = (await (await fetch(`${url}/api/docs`)).json()) as DocsResponse
    expect(empty.docs).toEqual([])

    const writer = connectStock(url, 'cli-doc')
    writer.doc.getText('codemirror').insert(0, 'written through the CLI server')
    let listed: DocsResponse = { docs: [] }
    await waitFor(
      () => `cli-doc in /api/docs (${JSON.stringify(listed)})`,
      async () => {
        listed = (await (await fetch(`${url}/api/docs`)).json()) as DocsResponse
        return listed.docs.some((doc) => doc.name === 'cli-doc')
      },
      5_000,
      20,
    )
    const entry = listed.docs.find((doc) => doc.name === 'cli-doc')
    expect(entry, JSON.stringify(listed)).toBeDefined()
    expect(entry!.bytes).toBeGreaterThan(0)
    expect(entry!.records).toBeGreaterThan(0)

    writer.destroy()
    cli.child.kill('SIGTERM')
    expect(await cli.exited).toBe(0)
    expect(cli.stdout()).toMatch(/"msg":"stopped"/)
    // Started as `node dist/cli.js`, without the flags `npm start` and the image pass: it says so.
    expect(cli.stdout()).toMatch(/started without --max-semi-space-size=32/)

    const restarted = await startCli(['--port', '0', '--data', dataDir, '--log-level', 'warn'])
    const reader = connectStock(restarted.url, 'cli-doc')
    await waitFor('the reader to sync', () => reader.provider.synced)
    expect(reader.doc.getText('codemirror').toString()).toBe('written through the CLI server')
    restarted.cli.child.kill('SIGTERM')
    expect(await restarted.cli.exited).toBe(0)
  })

  it('takes its port from the PORT environment variable', async () => {
    const { cli, url } = await startCli(['--data', tempDir()], { PORT: '0' })
    expect(new URL(url).port).not.toBe('1234')
    expect((await fetch(`${url}/healthz`)).status).toBe(200)
    cli.child.kill('SIGTERM')
    expect(await cli.exited).toBe(0)
  })

  it('exits with 2 and names PORT when the port is not a number', async () => {
    const cli = runCli(['--port', 'abc', '--data', tempDir()])
    expect(await cli.exited).toBe(2)
    expect(cli.stderr()).toMatch(/PORT/)
    expect(cli.stderr()).toMatch(/"abc"/)
  })

  it('exits with 2 on an unknown flag', async () => {
    const cli = runCli(['--no-such-flag'])
    expect(await cli.exited).toBe(2)
    expect(cli.stderr()).toMatch(/--help/)
  })

  it('prints its settings with --help and exits with 0', async () => {
    const cli = runCli(['--help'])
    expect(await cli.exited).toBe(0)
    for (const setting of ['--port', 'PORT', '--data', 'DATA_DIR', '--log-level', 'LOG_LEVEL']) {
      expect(cli.stdout()).toContain(setting)
    }
  })
})
