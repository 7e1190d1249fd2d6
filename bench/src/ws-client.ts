import {
  Capability,
  decodeMessage,
  encodeHello,
  encodeSyncStep1,
  encodeSyncUpdate,
  type Message,
} from '@collab/protocol'
import { WebSocket } from 'ws'

/** A bare protocol client for load generation: no Y.Doc unless the caller keeps one. */
export class BenchClient {
  readonly ws: WebSocket
  saved = 0
  private readonly opened: Promise<void>
  private listeners: Array<(message: Message) => void> = []

  constructor(url: string) {
    this.ws = new WebSocket(url, { perMessageDeflate: false })
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('error', reject)
    })
    this.ws.on('message', (data: Buffer) => {
      const decoded = decodeMessage(data)
      if (!decoded.ok) throw new Error(`server sent a bad message: ${decoded.error}`)
      if (decoded.message.type === 'saved') this.saved = decoded.message.count
      for (const listener of this.listeners) listener(decoded.message)
    })
  }

  async open(options: { saveAck?: boolean } = {}): Promise<this> {
    await this.opened
    if (options.saveAck) this.ws.send(encodeHello([Capability.SaveAck]))
    return this
  }

  onMessage(listener: (message: Message) => void): void {
    this.listeners.push(listener)
  }

  /** Resolves with the first message that `match` accepts. */
  next<T extends Message>(match: (message: Message) => message is T): Promise<T> {
    return new Promise((resolve) => {
      const listener = (message: Message) => {
        if (!match(message)) return
        this.listeners = this.listeners.filter((l) => l !== listener)
        resolve(message)
      }
      this.listeners.push(listener)
    })
  }

  sendUpdate(update: Uint8Array): void {
    this.ws.send(encodeSyncUpdate(update))
  }

  sendStep1(stateVector: Uint8Array): void {
    this.ws.send(encodeSyncStep1(stateVector))
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) resolve()
      this.ws.once('close', () => resolve())
      this.ws.close()
    })
  }
}
