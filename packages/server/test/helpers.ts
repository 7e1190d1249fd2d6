import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type AwarenessEntry,
  Capability,
  decodeMessage,
  encodeAwareness,
  encodeAwarenessEntries,
  encodeHello,
  encodePing,
  type Message,
  MessageType,
} from '@collab/protocol'
import { LevelDocStore } from '@collab/storage'
import { type LoopbackServer, listenOnLoopback, type Teardown, waitFor } from '@collab/test-support'
import { type Logger, pino } from 'pino'
import { type ClientOptions, WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { createSyncServer, type SyncServer, type SyncServerOptions } from '../src/index.js'

export { Teardown, waitFor } from '@collab/test-support'

/** A fresh temporary directory, removed by `teardown`. */
export function tempDir(teardown: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'collab-server-test-'))
  teardown.defer(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Opens a LevelDB store at `path`, closed by `teardown` (closing twice is harmless). */
export async function openLevelStore(path: string, teardown: Teardown): Promise<LevelDocStore> {
  const store = await LevelDocStore.open({ path })
  teardown.defer(() => store.close())
  return store
}

/** A sync server on an HTTP server listening on a free loopback port. */
export type TestServer = LoopbackServer<SyncServer>

/** Test defaults: short enough that timers never make a test slow, long enough not to fire by accident. */
const testTimings = { pingIntervalMs: 1_000, connectionTimeoutMs: 5_000, roomGraceMs: 100 }

/** Starts a sync server on a free port, or on `port` (a restart that clients should find at the same URL). */
export function startTestServer(options: SyncServerOptions, teardown: Teardown, port = 0): Promise<TestServer> {
  const sync = createSyncServer({ logger: pino({ level: 'silent' }), ...testTimings, ...options })
  return listenOnLoopback(sync, { port, teardown })
}

/** A logger that keeps every line it writes, for tests that check what the server logs. */
export function capturingLogger(): { logger: Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = []
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) })
  return { logger, lines }
}

/** The stock y-websocket client on a Node WebSocket, editing the `codemirror` Y.Text like the web app. */
export interface StockClient {
  doc: Y.Doc
  text: Y.Text
  provider: WebsocketProvider
  destroy(): void
}

/**
 * The WebSocket class type the provider's options declare: the WHATWG one. `ws` implements every part of it
 * y-websocket uses (onopen/onmessage/binaryType/send/close), but its types lack `dispatchEvent`.
 */
type ProviderWebSocket = NonNullable<
  NonNullable<ConstructorParameters<typeof WebsocketProvider>[3]>['WebSocketPolyfill']
>

export interface StockClientOptions {
  connect?: boolean
  /** The Y.Doc's client ID, for tests that must replay exactly (Yjs orders concurrent inserts by client ID). */
  clientID?: number
  /** The WebSocket class the provider uses; `ws` by default (Node 20 has no global WebSocket, STACK.md trap 7). */
  WebSocketPolyfill?: new (
    address: string,
    protocols?: string | string[],
  ) => WebSocket
}

export function stockClient(
  serverUrl: string,
  docName: string,
  teardown: Teardown,
  options: StockClientOptions = {},
): StockClient {
  const doc = new Y.Doc()
  if (options.clientID !== undefined) doc.clientID = options.clientID
  const provider = new WebsocketProvider(serverUrl, docName, doc, {
    connect: options.connect ?? true,
    WebSocketPolyfill: (options.WebSocketPolyfill ?? WebSocket) as unknown as ProviderWebSocket,
    disableBc: true,
    // Reconnects after a server restart within a test's time budget.
    maxBackoffTime: 200,
  })
  let destroyed = false
  const client: StockClient = {
    doc,
    text: doc.getText('codemirror'),
    provider,
    destroy() {
      if (destroyed) return
      destroyed = true
      // provider.destroy() leaves the awareness interval running; doc.destroy() stops it (STACK.md trap 8).
      provider.destroy()
      doc.destroy()
    },
  }
  teardown.defer(() => client.destroy())
  return client
}

/** Resolves once the provider has finished its initial sync with the server. */
export async function synced(client: StockClient, timeoutMs = 5_000): Promise<void> {
  await waitFor(`${client.provider.url} to sync`, () => client.provider.synced, timeoutMs)
}

/** The `ws` socket under a stock provider, for tests that need to kill it abruptly. */
export function socketOf(client: StockClient): WebSocket {
  const ws: unknown = client.provider.ws
  if (!(ws instanceof WebSocket)) throw new Error('the provider has no open ws socket')
  return ws
}

/** A bare WebSocket speaking the protocol by hand, recording every message the server sends it. */
export class RawClient {
  /** Every binary message received, decoded. */
  readonly received: Message[] = []
  /** Messages the client could not decode (a server bug if any arrive). */
  readonly undecodable: Array<{ data: Uint8Array; error: string }> = []
  closeEvent: { code: number; reason: string } | null = null

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (!isBinary || !(data instanceof Uint8Array)) {
        this.undecodable.push({ data: new Uint8Array(0), error: 'text or fragmented frame' })
        return
      }
      const result = decodeMessage(data)
      if (result.ok) this.received.push(result.message)
      else this.undecodable.push({ data: Uint8Array.from(data), error: result.error })
    })
    ws.on('close', (code, reason) => {
      this.closeEvent = { code, reason: reason.toString() }
    })
  }

  /**
   * Opens a connection and resolves once it is open (or rejects if the upgrade fails). `protocols` are offered in
   * the `Sec-WebSocket-Protocol` header (`['collab', 'token.<token>']` carries a token).
   */
  static connect(
    url: string,
    teardown: Teardown,
    options: ClientOptions = {},
    protocols: string[] = [],
  ): Promise<RawClient> {
    const ws = new WebSocket(url, protocols, options)
    const client = new RawClient(ws)
    teardown.defer(() => client.ws.terminate())
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client))
      ws.once('error', reject)
    })
  }

  /** Pings this client sent; the server answers each, in order. */
  pingsSent = 0

  send(data: Uint8Array | string): void {
    if (typeof data !== 'string' && data.length === 1 && data[0] === MessageType.Ping) this.pingsSent++
    this.ws.send(data)
  }

  /** Received messages of one type, in arrival order. */
  messagesOf<T extends Message['type']>(type: T): Array<Extract<Message, { type: T }>> {
    return this.received.filter((message): message is Extract<Message, { type: T }> => message.type === type)
  }

  /** Resolves with the close code once the server closed the connection. */
  async waitForClose(timeoutMs = 5_000): Promise<number> {
    await waitFor('the connection to close', () => this.closeEvent !== null, timeoutMs)
    return this.closeEvent?.code ?? -1
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN
  }
}

/** A Y.Doc whose every change is captured as one update, for clients that send updates by hand. */
export class UpdateSource {
  readonly doc = new Y.Doc()
  readonly text = this.doc.getText('codemirror')
  private readonly captured: Uint8Array[] = []

  constructor(teardown: Teardown) {
    this.doc.on('update', (update: Uint8Array) => this.captured.push(update))
    teardown.defer(() => this.doc.destroy())
  }

  /** Appends `content` and returns the update it produced. */
  type(content: string): Uint8Array {
    this.text.insert(this.text.length, content)
    const update = this.captured.at(-1)
    if (!update) throw new Error('typing produced no update')
    return update
  }
}

/** The text of a loaded room, or `undefined` when the room is not loaded. */
export function roomText(server: TestServer, docName: string): string | undefined {
  const room = server.sync.getRoom(docName)
  return room?.isReady ? room.doc.getText('codemirror').toString() : undefined
}

/** An awareness message carrying `entries`. */
export function awarenessMessage(...entries: AwarenessEntry[]): Uint8Array {
  return encodeAwareness(encodeAwarenessEntries(entries))
}

/** Every awareness entry a client received, in order. */
export function awarenessEntries(client: RawClient): AwarenessEntry[] {
  return client.messagesOf('awareness').flatMap((message) => message.entries)
}

/** The awareness entries a client received for one client ID, in order. */
export function entriesFor(client: RawClient, clientID: number): AwarenessEntry[] {
  return awarenessEntries(client).filter((entry) => entry.clientID === clientID)
}

/** Sends a ping and waits for the pong: the server handles a connection's messages in order, so everything sent
 * before the ping has been handled by then. */
export async function roundTrip(client: RawClient): Promise<void> {
  client.send(encodePing())
  // Every ping sent so far answered: the server handles a connection's messages in order, so everything sent
  // before this ping has been handled too.
  await waitFor('pong', () => client.messagesOf('pong').length >= client.pingsSent)
}

/** A raw client that announced the heartbeat extension, so it may ping ([EX1], [HB1]). */
export async function connectWithHeartbeat(url: string, teardown: Teardown): Promise<RawClient> {
  const client = await RawClient.connect(url, teardown)
  client.send(encodeHello([Capability.Heartbeat]))
  return client
}

/** The text of the `codemirror` Y.Text after applying `updates` to a fresh document. */
export function textOfUpdates(...updates: Uint8Array[]): string {
  const doc = new Y.Doc()
  try {
    for (const update of updates) Y.applyUpdate(doc, update)
    return doc.getText('codemirror').toString()
  } finally {
    doc.destroy()
  }
}

/** The types of the messages a client received, in order. */
export function receivedTypes(client: RawClient): string[] {
  return client.received.map((message) => message.type)
}

/**
 * The outcome of an upgrade request that the server may refuse before any WebSocket exists ([OR1]): the HTTP
 * status of the refusal, or 101 once the WebSocket is open (it is then closed at once).
 */
export function upgradeStatus(url: string, options: ClientOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options)
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? -1)
      res.resume()
      ws.terminate()
    })
    ws.once('open', () => {
      resolve(101)
      ws.terminate()
    })
    ws.once('error', reject)
  })
}

/**
 * Opens a WebSocket by hand and writes `messages` as binary frames in ONE write, so they reach the server in one
 * socket read (a `ws` client writes each frame separately, and the kernel may split them between reads). Resolves
 * with the raw socket once written; the caller ignores what the server sends on it.
 */
export function writeFramesAtOnce(url: string, messages: Uint8Array[], teardown: Teardown): Promise<Socket> {
  const { hostname, port, pathname } = new URL(url.replace(/^ws/, 'http'))
  return new Promise((resolve, reject) => {
    const req = request({
      hostname,
      port,
      path: pathname,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': Buffer.from('sixteen byte key').toString('base64'),
      },
    })
    req.on('upgrade', (_res, socket: Socket) => {
      teardown.defer(() => socket.destroy())
      const frames = messages.map((payload) => {
        // Client frames must be masked; a mask of zeros leaves the payload as it is.
        const header =
          payload.length < 126
            ? Buffer.from([0x82, 0x80 | payload.length])
            : Buffer.from([0x82, 0x80 | 126, payload.length >> 8, payload.length & 0xff])
        return Buffer.concat([header, Buffer.alloc(4), payload])
      })
      socket.write(Buffer.concat(frames), () => resolve(socket))
    })
    req.on('error', reject)
    req.end()
  })
}

/** Bytes one client-to-server WebSocket frame with a `payloadBytes` payload takes on the wire (masked). */
export function clientFrameBytes(payloadBytes: number): number {
  const lengthBytes = payloadBytes < 126 ? 0 : payloadBytes < 65_536 ? 2 : 8
  return 2 + lengthBytes + 4 + payloadBytes
}

/**
 * Counts the bytes every upgraded socket of `server` receives after the handshake, so a test can know that the
 * server has received what a client sent (without waiting a fixed time) while the server does not answer yet.
 */
export function countReceivedBytes(server: TestServer): () => number {
  let received = 0
  server.http.prependListener('upgrade', (_req, socket) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length
    })
  })
  return () => received
}
