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
  ws.on('close', (code) => events.closed(code))
  return {
    get isOpen() {
      return ws.readyState === ws.OPEN
    },
    get queuedBytes() {
      return ws.bufferedAmount
    },
    send(message) {
      if (ws.readyState === ws.OPEN) ws.send(message, { binary: true })
    },
    pauseReading() {
      ws.pause()
    },
    resumeReading() {
      ws.resume()
    },
    probe() {
      if (ws.readyState === ws.OPEN) ws.ping()
    },
    close(code, reason) {
      // Close reasons are limited to 123 bytes by the WebSocket protocol.
      ws.close(code, reason.slice(0, 120))
    },
    terminate() {
      ws.terminate()
    },
  }
}

/** Bytes of a received message, however ws delivered it. */
function rawDataBytes(data: RawData): number {
  return Array.isArray(data) ? data.reduce((sum, chunk) => sum + chunk.length, 0) : data.byteLength
}
