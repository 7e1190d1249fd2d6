import type { RawData, WebSocket } from 'ws'
import type { Channel, ChannelEvents } from './channel.js'

/** Wraps an accepted WebSocket as a {@link Channel}, reporting its events to `events`. */
export function createWebSocketChannel(ws: WebSocket, events: ChannelEvents): Channel {
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary && data instanceof Uint8Array) events.message(data, data.length)
    else events.message(null, rawDataBytes(data))
  })
  ws.on('pong', () => events.alive())
  ws.on('error', (err) => events.error(err))
  // ws closes the socket from its frame parser's error handler, before the 'error' event, while messages parsed
  // before the bad frame may still wait in the connection's inbox: a listener ahead of ws's own lets them be
  // handled first. `_receiver` is ws's internal parser (ws 8); without it, the bad frame's close code wins.
  const receiver = (ws as unknown as { _receiver?: { prependListener(event: 'error', listener: () => void): void } })
    ._receiver
  const unreadable = events.unreadable
  if (unreadable) receiver?.prependListener('error', () => unreadable())
  ws.on('close', (code) => events.closed(code))
  return new WebSocketChannel(ws)
}

/** A class rather than an object of closures: one of these lives as long as every connection. */
class WebSocketChannel implements Channel {
  constructor(private readonly ws: WebSocket) {}

  get isOpen(): boolean {
    return this.ws.readyState === this.ws.OPEN
  }

  get queuedBytes(): number {
    return this.ws.bufferedAmount
  }

  send(message: Uint8Array): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(message, { binary: true })
  }

  pauseReading(): void {
    this.ws.pause()
  }

  resumeReading(): void {
    this.ws.resume()
  }

  probe(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping()
  }

  close(code: number, reason: string): void {
    // Close reasons are limited to 123 bytes by the WebSocket protocol.
    this.ws.close(code, reason.slice(0, 120))
  }

  terminate(): void {
    this.ws.terminate()
  }
}

/** Bytes of a received message, however ws delivered it. */
function rawDataBytes(data: RawData): number {
  return Array.isArray(data) ? data.reduce((sum, chunk) => sum + chunk.length, 0) : data.byteLength
}
