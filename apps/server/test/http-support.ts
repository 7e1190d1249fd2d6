import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { Teardown } from '@collab/test-support'
import { pino } from 'pino'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { type DocGrants, issueToken } from '../src/auth.js'
import { type RunningServer, type StartOptions, startServer } from '../src/main.js'

// Helpers of the HTTP API tests: in-process servers on port 0 with their log lines, Yjs updates, clients.

export { waitFor } from '@collab/test-support'

export const secret = 'http-api-test-secret-0123456789-abcdefgh'

/** Cleanup steps of the current test; each test file runs them after each test. */
export const teardown = new Teardown()

/** Log lines the server wrote, parsed. */
export type LogLine = Record<string, unknown> & { msg: string }

export interface TestServer extends RunningServer {
  logs: LogLine[]
  /** Everything logged, as one string, to look for leaks. */
  logText(): string
}

export async function start(options: Partial<StartOptions> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'collab-http-api-'))
  teardown.defer(() => rmSync(dataDir, { recursive: true, force: true }))
  const logs: LogLine[] = []
  let text = ''
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString()
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as LogLine)
      done()
    },
  })
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    logger: pino({ level: 'debug' }, sink),
    ...options,
  })
  teardown.defer(() => server.close())
  return Object.assign(server, { logs, logText: () => text })
}

/** One Yjs update that sets a fresh document's text. */
export function textUpdate(text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('codemirror').insert(0, text)
  const update = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return update
}

export function textOf(state: Uint8Array): string {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, state)
  const text = doc.getText('codemirror').toString()
  doc.destroy()
  return text
}

export function post(url: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/octet-stream', ...headers },
  })
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

export function tokenFor(grants: DocGrants, subject = 'tester'): Promise<string> {
  return issueToken({ secret }, subject, grants, 600)
}

/** A stock y-websocket client (Node needs `ws`, STACK.md trap 7), destroyed after the test. */
export function stockClient(server: RunningServer, docName: string, token?: string) {
  const doc = new Y.Doc()
  const polyfill = WebSocket as unknown as NonNullable<
    NonNullable<ConstructorParameters<typeof WebsocketProvider>[3]>['WebSocketPolyfill']
  >
  const provider = new WebsocketProvider(server.url.replace(/^http/, 'ws'), docName, doc, {
    WebSocketPolyfill: polyfill,
    disableBc: true,
    ...(token !== undefined && { params: { token } }),
  })
  // provider.destroy() leaves the awareness interval running; doc.destroy() stops it (STACK.md trap 8).
  teardown.defer(() => {
    provider.destroy()
    doc.destroy()
  })
  return { doc, provider, text: doc.getText('codemirror') }
}

/** A raw WebSocket on a document, recording how it closed. */
export async function rawSocket(server: RunningServer, encodedName: string) {
  const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/${encodedName}`)
  teardown.defer(() => ws.terminate())
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  return { ws, closed }
}

/** Sends a request with a body it never finishes, and resolves with the status the server answered. */
export function statusBeforeBody(url: string, headers: Record<string, string>, firstBytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
      req.destroy()
    })
    req.on('error', reject)
    req.write(Buffer.alloc(firstBytes, 1))
  })
}

/** The value of an unlabelled sample, or the sum of a metric's samples matching `labels`. */
export function sample(exposition: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1))
    }
  }
  return sum
}

/** An answer read in full. */
export interface RawAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/**
 * A request with headers fetch() will not send as given (`Host`, `Origin`, `X-Forwarded-For`), as a browser or a
 * proxy would send them.
 */
export function rawRequest(
  server: RunningServer,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: Uint8Array | string } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}${path}`,
      { method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}

/** A WebSocket the server opened, then closed before sending anything: how a browser learns why it was refused. */
export interface ClosedAnswer {
  closeCode: number
  reason: string
}

/**
 * Opens a WebSocket with the given headers: `'open'` once the server has sent it a first message (it was admitted
 * to the document), the close code when it was closed before that, or the HTTP answer that refused the upgrade.
 */
export function upgrade(
  server: RunningServer,
  docName: string,
  headers: Record<string, string> = {},
): Promise<'open' | RawAnswer | ClosedAnswer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/${encodeURIComponent(docName)}`, { headers })
    teardown.defer(() => ws.terminate())
    ws.once('message', () => resolve('open'))
    ws.once('close', (closeCode, reason) => resolve({ closeCode, reason: reason.toString() }))
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    // Also reports the terminate() of a refused socket at cleanup, when the promise has settled already.
    ws.on('error', reject)
  })
}
