import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { WebSocket } from 'ws'
import { currentMeasurement, type Measurement } from './health.js'

/** The two wire protocols under test: y-websocket's (ours, @y/websocket-server, the raw relay) and Hocuspocus's. */
export type WireProtocol = 'y-websocket' | 'hocuspocus'

/** How a load-generator client talks to one system. */
export interface ClientFlavour {
  protocol: WireProtocol
  /** Ours: announce heartbeat and save-ack and ping when idle, as our provider does, so the server does that work too. */
  hello: boolean
  /** The raw relay answers nothing: do not start a sync handshake. */
  handshake: boolean
}

/** Counters of what the server sent a client. */
export interface ReceivedCounts {
  messages: number
  bytes: number
  updates: number
  awareness: number
  /** WebSocket ping frames (liveness traffic the server generates). */
  pings: number
}

const emptyStateVector = new Uint8Array([0])
/** A Yjs update that changes nothing: what a client holding nothing new answers the server's sync step 1 with. */
const emptyUpdate = new Uint8Array([0, 0])

// Message type numbers of both protocols (y-websocket: docs/PROTOCOL.md; Hocuspocus: its MessageType enum).
const Msg = { Sync: 0, Awareness: 1, Auth: 2, Hello: 100, Ping: 101, Pong: 102, Saved: 103, SyncStatus: 8 } as const
const Sync = { Step1: 0, Step2: 1, Update: 2 } as const

/** Our provider's heartbeat ([HB1]): a `ping` message after this long without hearing anything. */
const heartbeatIdleMs = 2_000
/** Clients that ping like our provider does, checked by one timer for all of them (as often as the provider checks). */
const heartbeating = new Set<SyncClient>()
let heartbeatTimer: NodeJS.Timeout | null = null

function checkHeartbeats(): void {
  const now = performance.now()
  for (const client of heartbeating) client.heartbeat(now)
}

/**
 * A bare protocol client for load generation: it keeps no Y.Doc, so 1,000 of them fit in one process and the
 * receiving side costs the same for every system. Hocuspocus frames every message with the document name and
 * wants an auth message first; otherwise the sync and awareness payloads are the same y-protocols bytes.
 */
export class SyncClient {
  readonly ws: WebSocket
  readonly received: ReceivedCounts = { messages: 0, bytes: 0, updates: 0, awareness: 0, pings: 0 }
  /** Ours: the last `saved` count. Hocuspocus: how many updates the server reported applied (SyncStatus). */
  acks = 0
  /** Received a sync step 2: the server answered this client's step 1. */
  synced = false
  /** Sync step 2 and update messages sent: what `acks` counts up to once the server has them all. */
  docMessagesSent = 0
  /** Set once the socket closed: the close code and reason the server gave. */
  closeCode: number | null = null
  closeReason = ''
  /** Called for every document update the server sends, with the time it was read off the socket. */
  onUpdate: ((update: Uint8Array, kind: 'step2' | 'update', at: number) => void) | null = null
  /** Called with the state vector of every sync step 1 the server sends. */
  onServerStep1: ((stateVector: Uint8Array) => void) | null = null
  readonly opened: Promise<void>
  readonly closed: Promise<void>
  private syncWaiters: Array<() => void> = []
  private lastHeardAt = performance.now()
  private lastPingAt = 0
  /** The measurement this client was created in: it hears of this client's close and acknowledgements. */
  private readonly measurement: Measurement | null = currentMeasurement()

  constructor(
    baseUrl: string,
    readonly docName: string,
    private readonly flavour: ClientFlavour,
    /** The state vector this client announces in its sync step 1 (what it already holds). */
    private readonly stateVector: Uint8Array = emptyStateVector,
  ) {
    // Hocuspocus names the document inside each message; the URL path is only for the others.
    const url = flavour.protocol === 'hocuspocus' ? baseUrl : `${baseUrl}/${encodeURIComponent(docName)}`
    this.ws = new WebSocket(url, { perMessageDeflate: false })
    this.ws.binaryType = 'nodebuffer'
    watchCloses(this.ws, baseUrl, this.measurement)
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => {
        this.start()
        resolve()
      })
      this.ws.once('error', reject)
    })
    // Whoever needs the connection awaits `opened`; a client abandoned while connecting must not crash the run.
    this.opened.catch(() => undefined)
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code: number, reason: Buffer) => {
        this.closeCode = code
        this.closeReason = reason.toString()
        resolve()
      }),
    )
    // Errors after opening (a server restart resets sockets) end in 'close'; the workloads look at that.
    this.ws.on('error', () => undefined)
    this.ws.on('ping', () => {
      this.received.pings++
    })
    this.ws.on('message', (data: Buffer) => this.receive(data))
    if (flavour.hello) {
      heartbeating.add(this)
      heartbeatTimer ??= setInterval(checkHeartbeats, 500).unref()
      this.ws.once('close', () => {
        heartbeating.delete(this)
        if (heartbeating.size === 0 && heartbeatTimer) {
          clearInterval(heartbeatTimer)
          heartbeatTimer = null
        }
      })
    }
  }

  /** Sends a `ping` when nothing was heard for a while and none is pending, as our provider does. */
  heartbeat(now: number): void {
    if (this.ws.readyState !== WebSocket.OPEN) return
    if (now - this.lastHeardAt < heartbeatIdleMs || this.lastPingAt > this.lastHeardAt) return
    this.lastPingAt = now
    this.ws.send(frame(null, Msg.Ping, () => undefined))
  }

  private start(): void {
    if (this.flavour.hello) this.ws.send(frame(null, Msg.Hello, (e) => writeStrings(e, ['heartbeat', 'save-ack'])))
    if (this.flavour.protocol === 'hocuspocus') {
      // Auth message with an empty token: the server queues everything else until it has answered it.
      this.ws.send(
        frame(this.docName, Msg.Auth, (e) => {
          encoding.writeVarUint(e, 0)
          encoding.writeVarString(e, '')
        }),
      )
    }
    if (this.flavour.handshake) this.sendStep1(this.stateVector)
  }

  private frame(type: number, write: (encoder: encoding.Encoder) => void): Uint8Array {
    return frame(this.flavour.protocol === 'hocuspocus' ? this.docName : null, type, write)
  }

  sendUpdate(update: Uint8Array): void {
    this.sendEncodedUpdate(encodeUpdateMessage(update, this.flavour.protocol, this.docName))
  }

  /** Sends an update message encoded beforehand with {@link encodeUpdateMessage} for this client's document. */
  sendEncodedUpdate(message: Uint8Array): void {
    this.docMessagesSent++
    this.ws.send(message)
  }

  sendStep1(stateVector: Uint8Array): void {
    this.ws.send(this.frame(Msg.Sync, (e) => writeSync(e, Sync.Step1, stateVector)))
  }

  /** Sends an encoded y-protocols awareness update. */
  sendAwareness(awarenessUpdate: Uint8Array): void {
    this.ws.send(this.frame(Msg.Awareness, (e) => encoding.writeVarUint8Array(e, awarenessUpdate)))
  }

  /** Resolves once the server has answered this client's sync step 1. */
  whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve()
    return this.nextStep2()
  }

  /** Resolves with the next sync step 2 the server sends. */
  nextStep2(): Promise<void> {
    return new Promise((resolve) => this.syncWaiters.push(resolve))
  }

  /**
   * Resolves once the server has handled every message this client sent so far. Hocuspocus acknowledges each
   * update it applied; on the y-websocket protocol a sync step 1 is answered in order, after everything before it.
   */
  async handled(stateVector: Uint8Array = emptyStateVector, timeoutMs = 600_000): Promise<void> {
    if (this.flavour.protocol === 'hocuspocus') {
      const deadline = performance.now() + timeoutMs
      while (this.acks < this.docMessagesSent) {
        this.assertOpen()
        if (performance.now() > deadline) throw new Error(`server acknowledged ${this.acks}/${this.docMessagesSent}`)
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
      return
    }
    const answered = this.nextStep2()
    this.sendStep1(stateVector)
    await Promise.race([answered, this.closed.then(() => this.assertOpen())])
  }

  /** Throws if the server closed this connection (a benchmark that loses its connection measures nothing). */
  assertOpen(): void {
    if (this.closeCode !== null) {
      throw new Error(`server closed the connection to ${this.docName}: ${this.closeCode} ${this.closeReason}`)
    }
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve()
    this.ws.close()
    return this.closed
  }

  private receive(data: Buffer): void {
    const at = performance.now()
    this.lastHeardAt = at
    this.received.messages++
    this.received.bytes += data.length
    const decoder = decoding.createDecoder(data)
    if (this.flavour.protocol === 'hocuspocus') decoding.readVarString(decoder)
    const type = decoding.readVarUint(decoder)
    switch (type) {
      case Msg.Sync:
        this.receiveSync(decoder, at)
        return
      case Msg.Awareness:
        this.received.awareness++
        return
      case Msg.SyncStatus:
        if (this.flavour.protocol === 'hocuspocus' && decoding.readVarInt(decoder) === 1) {
          this.acks++
          if (this.measurement) this.measurement.acknowledgements++
        }
        return
      case Msg.Saved:
        this.acks = decoding.readVarUint(decoder)
        if (this.measurement) this.measurement.acknowledgements++
        return
      case Msg.Ping:
        this.ws.send(frame(null, Msg.Pong, () => undefined))
        return
      default:
        // Auth answers, hello, pong, close notices: nothing the load generator acts on.
        return
    }
  }

  private receiveSync(decoder: decoding.Decoder, at: number): void {
    const sub = decoding.readVarUint(decoder)
    const payload = decoding.readVarUint8Array(decoder)
    if (sub === Sync.Step1) {
      this.onServerStep1?.(payload)
      this.docMessagesSent++
      this.ws.send(this.frame(Msg.Sync, (e) => writeSync(e, Sync.Step2, emptyUpdate)))
      return
    }
    this.received.updates++
    if (sub === Sync.Step2) {
      this.synced = true
      const waiters = this.syncWaiters
      this.syncWaiters = []
      for (const resolve of waiters) resolve()
    }
    this.onUpdate?.(payload, sub === Sync.Step2 ? 'step2' : 'update', at)
  }
}

/**
 * Reports how `ws` (connected to `baseUrl`) closes to `measurement`: whether the bench closed it itself (`close` or
 * `terminate`, wrapped here so that every call site counts) or the other side did. A connection that never opened
 * is not counted (a connection attempt that failed is the workload's to retry or report).
 */
export function watchCloses(ws: WebSocket, baseUrl: string, measurement: Measurement | null): void {
  if (!measurement) return
  const port = Number(new URL(baseUrl).port)
  let byClient = false
  let opened = false
  const close = ws.close.bind(ws)
  const terminate = ws.terminate.bind(ws)
  ws.close = (...args: Parameters<WebSocket['close']>) => {
    byClient = true
    close(...args)
  }
  ws.terminate = () => {
    byClient = true
    terminate()
  }
  ws.once('open', () => {
    opened = true
  })
  ws.once('close', (code: number) => {
    if (opened) measurement.connectionClosed(port, code, byClient)
  })
}

/**
 * A document update as a sync message of `protocol` on `docName`: what {@link SyncClient.sendUpdate} sends, for a
 * client that encodes its messages before it sends them.
 */
export function encodeUpdateMessage(update: Uint8Array, protocol: WireProtocol, docName: string): Uint8Array {
  return frame(protocol === 'hocuspocus' ? docName : null, Msg.Sync, (e) => writeSync(e, Sync.Update, update))
}

function frame(docName: string | null, type: number, write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  if (docName !== null) encoding.writeVarString(encoder, docName)
  encoding.writeVarUint(encoder, type)
  write(encoder)
  return encoding.toUint8Array(encoder)
}

function writeSync(encoder: encoding.Encoder, sub: number, payload: Uint8Array): void {
  encoding.writeVarUint(encoder, sub)
  encoding.writeVarUint8Array(encoder, payload)
}

function writeStrings(encoder: encoding.Encoder, values: readonly string[]): void {
  encoding.writeVarUint(encoder, values.length)
  for (const value of values) encoding.writeVarString(encoder, value)
}

/** Encodes one awareness entry in y-protocols' format: what a client sends when its presence changes. */
export function encodeAwarenessEntry(clientID: number, clock: number, state: unknown): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 1)
  encoding.writeVarUint(encoder, clientID)
  encoding.writeVarUint(encoder, clock)
  encoding.writeVarString(encoder, JSON.stringify(state))
  return encoding.toUint8Array(encoder)
}
