import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { listeningUrl, loadTrace, replayTrace, startServerProcess, Teardown, waitFor } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { sameRequestMs, signalVerdict } from '../src/shutdown-signals.js'

// One shutdown however it is asked for (issue 12, docs/OPERATIONS.md "Running"): `npm start`'s process group gets
// one SIGTERM, which the server also receives forwarded; it still flushes, compacts and exits 0.

const startScript = resolve(dirname(fileURLToPath(import.meta.url)), '../../../scripts/start.mjs')

const teardown = new Teardown()
afterEach(() => teardown.run())

type ProviderWebSocket = NonNullable<
  NonNullable<ConstructorParameters<typeof WebsocketProvider>[3]>['WebSocketPolyfill']
>

/** The stock y-websocket client (Node needs `ws`, STACK.md trap 7). */
function stockClient(url: string, docName: string) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(url.replace(/^http/, 'ws'), docName, doc, {
    WebSocketPolyfill: WebSocket as unknown as ProviderWebSocket,
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
  return { doc, provider, text: doc.getText('codemirror'), destroy }
}

/** `node scripts/start.mjs` as `npm start` runs it, in a process group of its own, as a service manager starts it. */
function startLikeNpm(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | string> } {
  const env: NodeJS.ProcessEnv = { ...process.env, COLLAB_SKIP_BUILD: '1' }
  for (const name of ['HOST', 'PORT', 'DATA_DIR', 'LOG_LEVEL', 'AUTH_SECRET', 'TRUST_PROXY']) delete env[name]
  const child = spawn(process.execPath, [startScript, ...args], {
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  const exited = new Promise<number | string>((resolvePromise) =>
    child.once('exit', (code, signal) => resolvePromise(code ?? signal ?? -1)),
  )
  teardown.defer(async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(-child.pid, 'SIGKILL')
      await exited
    }
  })
  return { child, output: () => output, exited }
}

describe('stop signals', () => {
  it('a SIGTERM to the process group of `npm start` right after a burst of typing: exit 0, every character back, compacted', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'collab-shutdown-test-'))
    teardown.defer(() => rmSync(dataDir, { recursive: true, force: true }))
    const npm = startLikeNpm(['--host', '127.0.0.1', '--port', '0', '--data', dataDir, '--log-level', 'info'])
    let url: string | undefined
    await waitFor(
      () => `the listening line (output: ${npm.output()})`,
      () => {
        url ??= listeningUrl(npm.output())
        return url !== undefined || npm.child.exitCode !== null
      },
      20_000,
    )
    if (url === undefined) throw new Error(`the server exited early: ${npm.output()}`)

    const writer = stockClient(url, 'typed')
    const reader = stockClient(url, 'typed')
    await waitFor('both clients to sync', () => writer.provider.synced && reader.provider.synced)
    const trace = loadTrace('sveltecomponent')
    // A burst of real typing, sent as fast as the client sends: one update message per keystroke.
    replayTrace({ ...trace, txns: trace.txns.slice(0, 1_500) }, writer.text)
    const typed = writer.text.toString()
    expect(typed.length).toBeGreaterThan(1_000)
    // Everything reached the server's document (the reader has it through the server); whether it is on disk yet
    // is the shutdown's job.
    await waitFor('the reader to hold the typed text', () => reader.text.toString() === typed, 15_000)

    const group = -(npm.child.pid as number)
    // The server gets this from the group and again from start.mjs, unless the kernel merges the two while both
    // are pending. One more to the group as soon as the server says it is shutting down (npm forwarding the one it
    // also got) makes sure it sees a repeat while it flushes.
    let repeated = false
    npm.child.stdout?.on('data', (chunk: Buffer) => {
      if (repeated || !chunk.toString().includes('"msg":"shutting down"')) return
      repeated = true
      try {
        process.kill(group, 'SIGTERM')
      } catch (err) {
        // Already gone: the shutdown was over before the repeat.
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
      }
    })
    process.kill(group, 'SIGTERM')
    expect(await npm.exited, npm.output()).toBe(0)
    expect(repeated).toBe(true)
    writer.destroy()
    reader.destroy()
    const lines = npm.output()
    expect(lines).toMatch(/"msg":"shutting down"/)
    // `npm start` runs the server with its Node.js flags (apps/server/src/node-flags.ts).
    expect(lines).toMatch(/"msg":"listening on/)
    expect(lines).not.toMatch(/started without/)
    expect(lines).not.toMatch(/exiting without waiting/)
    expect(lines).toMatch(/"msg":"stopped"/)

    const restarted = await startServerProcess({ dataDir, args: ['--log-level', 'warn'] })
    teardown.defer(() => restarted.stop('SIGKILL'))
    const stored = await fetch(`${restarted.url}/api/docs/typed`)
    expect(stored.status).toBe(200)
    expect(await stored.text()).toBe(typed)
    // Compacted on the way out: one snapshot record.
    const list = (await (await fetch(`${restarted.url}/api/docs`)).json()) as { docs: Array<{ records: number }> }
    expect(list.docs).toMatchObject([{ records: 1 }])
    expect(await restarted.stop('SIGTERM')).toBe(0)
  })

  it('signals within a couple of seconds of the first are the same request; a later one forces the exit', () => {
    expect(signalVerdict(null, 5_000)).toBe('shut down')
    expect(signalVerdict(5_000, 5_000)).toBe('already shutting down')
    expect(signalVerdict(5_000, 5_000 + sameRequestMs - 1)).toBe('already shutting down')
    expect(signalVerdict(5_000, 5_000 + sameRequestMs)).toBe('exit now')
    expect(sameRequestMs).toBeGreaterThanOrEqual(1_000)
  })
})
