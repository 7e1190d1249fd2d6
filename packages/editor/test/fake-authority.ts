import { rebaseUpdates } from '@codemirror/collab'
import { ChangeSet, type Text } from '@codemirror/state'
import { encodeMessage, type OtServerMessage, parseClientMessage, textOf } from '@collab/ot'
import { decodeMessage, encodeCollab, encodeHello, encodePong, encodeSaved } from '@collab/protocol'

/** One socket as the fake authority sees it. */
interface FakeConnection {
  socket: FakeWebSocket
  clientID: string | null
  /** Document messages (pushes) received, numbered as [SA1] numbers them. */
  received: number
  /** The version of the last welcome with the whole document: pushes based on older ones are stale ([OT6]). */
  resetAt: number
}

/**
 * An in-process @codemirror/collab authority speaking the wire protocol ([OT1]-[OT7]) to {@link FakeWebSocket}s:
 * enough of the server to test the client without one. The log has no floor; `newEpoch()` forgets it, and
 * `reset()` sends connected clients the whole document, as when they fall below the floor.
 */
export class FakeAuthority {
  doc: Text
  epoch = 'epoch-1'
  readonly log: { clientID: string; changes: ChangeSet }[] = []
  readonly connections: FakeConnection[] = []
  /** Every push as received, for assertions. */
  readonly pushes: { clientID: string; count: number }[] = []
  /** Collab messages sent to clients, for assertions. */
  readonly sent: OtServerMessage[] = []
  readOnly = false
  /** Acknowledge pushes at once ([SA1]); false holds them until `acknowledgeAll()`. */
  acknowledge = true
  /** Drop incoming pushes without applying them (a push lost with its connection). */
  dropPushes = false
  /**
   * Apply pushes but never send their entries to the connection that pushed them (confirmations lost with a
   * connection that is about to die); everyone else still gets them.
   */
  loseConfirmations = false
  /** How many updates of each client ID the document holds, over every epoch ([OT7]). */
  readonly applied = new Map<string, number>()
  /** Pushes ignored because they were based on a version older than a welcome with the whole document. */
  stalePushes = 0
  private nextClient = 1

  constructor(text = '') {
    this.doc = textOf(text)
  }

  get version(): number {
    return this.log.length
  }

  /** The WebSocket class clients get: every instance connects to this authority. */
  socketClass(): typeof WebSocket {
    const authority = this
    return class extends FakeWebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, authority)
      }
    } as unknown as typeof WebSocket
  }

  /** A change made by someone else (a Yjs client, say): one log entry, sent to everyone. */
  edit(from: number, to: number, insert: string): void {
    this.append('yjs', ChangeSet.of([{ from, to, insert: textOf(insert) }], this.doc.length))
  }

  /** Starts a new epoch, as after an unclean stop ([OT3]): clients must take the whole document. */
  newEpoch(text: string): void {
    this.epoch = `epoch-${Math.random().toString(36).slice(2)}`
    this.log.length = 0
    this.doc = textOf(text)
  }

  /**
   * Sends every joined connection a welcome with the whole document, as the server does when a client falls more
   * than `maxEntries` behind ([OT6]).
   */
  reset(): void {
    for (const connection of this.connections) {
      if (connection.clientID !== null) this.welcomeWithDoc(connection, connection.clientID)
    }
  }

  /** Closes every connection from the server side with `code`. */
  closeAll(code = 1006, reason = ''): void {
    for (const connection of [...this.connections]) connection.socket.serverClose(code, reason)
  }

  acknowledgeAll(): void {
    for (const connection of this.connections) connection.socket.deliver(encodeSaved(connection.received))
  }

  sendPresence(peers: Extract<OtServerMessage, { t: 'presence' }>['peers']): void {
    for (const connection of this.connections) this.sendTo(connection, { t: 'presence', version: this.version, peers })
  }

  /** @internal */
  opened(socket: FakeWebSocket): void {
    this.connections.push({ socket, clientID: null, received: 0, resetAt: 0 })
  }

  /** @internal */
  closed(socket: FakeWebSocket): void {
    const index = this.connections.findIndex((connection) => connection.socket === socket)
    if (index >= 0) this.connections.splice(index, 1)
  }

  /** @internal */
  receive(socket: FakeWebSocket, bytes: Uint8Array): void {
    const connection = this.connections.find((candidate) => candidate.socket === socket)
    if (!connection) return
    const decoded = decodeMessage(bytes)
    if (!decoded.ok) throw new Error(decoded.error)
    const message = decoded.message
    if (message.type === 'hello') {
      socket.deliver(encodeHello(['heartbeat', 'save-ack', ...(this.readOnly ? ['read-only'] : [])]))
    } else if (message.type === 'ping') socket.deliver(encodePong())
    else if (message.type === 'collab') this.collab(connection, message.json)
    else throw new Error(`an OT client sent ${message.type}`)
  }

  private collab(connection: FakeConnection, json: string): void {
    const parsed = parseClientMessage(json)
    if (!parsed.ok) throw new Error(parsed.error)
    const message = parsed.message
    if (message.t === 'join') {
      // [OT7]: the ID is the secret's; here the secret simply is the ID.
      const clientID = message.secret ?? `client-${this.nextClient++}`
      connection.clientID = clientID
      if (message.epoch === this.epoch && message.version !== null && message.version <= this.version) {
        // [OT2]: `version` is the client's, before the entries, as in `updates`.
        this.sendTo(connection, {
          t: 'welcome',
          clientID,
          secret: clientID,
          epoch: this.epoch,
          version: message.version,
          applied: this.applied.get(clientID) ?? 0,
          updates: this.log.slice(message.version).map(entryJSON),
        })
      } else this.welcomeWithDoc(connection, clientID)
    } else if (message.t === 'push') {
      connection.received++
      const clientID = connection.clientID ?? 'nobody'
      this.pushes.push({ clientID, count: message.updates.length })
      if (this.readOnly) {
        connection.socket.serverClose(4400, 'read-only connections may not push')
        return
      }
      if (this.dropPushes) return
      if (message.version < connection.resetAt) {
        // Sent before the client got the whole document: it pushes again what is left ([OT6]).
        this.stalePushes++
      } else {
        const updates = message.updates.map((update) => ({ clientID, changes: ChangeSet.fromJSON(update.changes) }))
        for (const update of rebaseUpdates(updates, this.log.slice(message.version))) {
          this.append(clientID, update.changes, this.loseConfirmations ? connection : null)
        }
      }
      if (this.acknowledge) connection.socket.deliver(encodeSaved(connection.received))
    }
  }

  /** A welcome with the whole document; the connection's pushes based on older versions are stale from now on. */
  private welcomeWithDoc(connection: FakeConnection, clientID: string): void {
    connection.resetAt = this.version
    this.sendTo(connection, {
      t: 'welcome',
      clientID,
      secret: clientID,
      epoch: this.epoch,
      version: this.version,
      applied: this.applied.get(clientID) ?? 0,
      doc: this.doc.toString(),
    })
  }

  /** One log entry, sent to every joined connection but `skip`. */
  private append(clientID: string, changes: ChangeSet, skip: FakeConnection | null = null): void {
    this.doc = changes.apply(this.doc)
    this.log.push({ clientID, changes })
    if (clientID !== 'yjs') this.applied.set(clientID, (this.applied.get(clientID) ?? 0) + 1)
    for (const connection of this.connections) {
      if (connection.clientID === null || connection === skip) continue
      this.sendTo(connection, { t: 'updates', version: this.version - 1, updates: [entryJSON({ clientID, changes })] })
    }
  }

  private sendTo(connection: FakeConnection, message: OtServerMessage): void {
    this.sent.push(message)
    connection.socket.deliver(encodeCollab(encodeMessage(message)))
  }
}

function entryJSON(entry: { clientID: string; changes: ChangeSet }) {
  return { clientID: entry.clientID, changes: entry.changes.toJSON() }
}

/** A WebSocket whose other end is a {@link FakeAuthority}; every delivery is asynchronous, as on a network. */
export class FakeWebSocket {
  static readonly CONNECTING = 0
  static readonly OPEN = 1
  static readonly CLOSING = 2
  static readonly CLOSED = 3
  readyState = FakeWebSocket.CONNECTING
  binaryType = 'arraybuffer'
  onopen: (() => void) | null = null
  onmessage: ((event: { data: ArrayBuffer }) => void) | null = null
  onclose: ((event: { code: number; reason: string }) => void) | null = null
  onerror: (() => void) | null = null

  constructor(
    readonly url: string,
    _protocols: string | string[] | undefined,
    private readonly authority: FakeAuthority,
  ) {
    setTimeout(() => {
      if (this.readyState !== FakeWebSocket.CONNECTING) return
      this.readyState = FakeWebSocket.OPEN
      authority.opened(this)
      this.onopen?.()
    }, 0)
  }

  send(data: Uint8Array): void {
    if (this.readyState !== FakeWebSocket.OPEN) throw new Error('send on a socket that is not open')
    const copy = data.slice()
    setTimeout(() => {
      if (this.readyState === FakeWebSocket.OPEN) this.authority.receive(this, copy)
    }, 0)
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === FakeWebSocket.CLOSED) return
    this.readyState = FakeWebSocket.CLOSED
    this.authority.closed(this)
    setTimeout(() => this.onclose?.({ code, reason }), 0)
  }

  /** @internal The server closes the connection. */
  serverClose(code: number, reason: string): void {
    this.close(code, reason)
  }

  /** @internal A message from the server. */
  deliver(bytes: Uint8Array): void {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
    setTimeout(() => {
      if (this.readyState === FakeWebSocket.OPEN) this.onmessage?.({ data: buffer })
    }, 0)
  }
}
