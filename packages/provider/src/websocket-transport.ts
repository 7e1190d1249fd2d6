import type { ConnectionTarget } from './connection-target.js'
import type { Transport, TransportEvents } from './transport.js'

/**
 * Opens a WebSocket to `target` and reports it as a {@link Transport}. Throws (a `SyntaxError` from the WebSocket
 * constructor) when the URL cannot be parsed; every later failure is a `closed` event.
 */
export function openWebSocketTransport(
  target: ConnectionTarget,
  WebSocketImpl: typeof WebSocket,
  events: TransportEvents,
): Transport {
  const ws =
    target.protocols.length > 0 ? new WebSocketImpl(target.url, target.protocols) : new WebSocketImpl(target.url)
  ws.binaryType = 'arraybuffer'
  let ended = false
  const detach = () => {
    ended = true
    ws.onopen = null
    ws.onmessage = null
    ws.onclose = null
  }
  ws.onopen = () => events.opened()
  ws.onmessage = (event: MessageEvent) => {
    // Text frames are not part of the protocol ([CN2]); the server never sends one.
    if (event.data instanceof ArrayBuffer) events.message(new Uint8Array(event.data))
  }
  ws.onclose = (event: CloseEvent) => {
    detach()
    events.closed(event.code, event.reason)
  }
  // An error is always followed by close, which is where it is handled.
  ws.onerror = () => undefined
  return {
    kind: 'websocket',
    get isOpen() {
      return !ended && ws.readyState === WebSocketImpl.OPEN
    },
    send(message) {
      if (!ended && ws.readyState === WebSocketImpl.OPEN) ws.send(message)
    },
    close(code, reason) {
      if (ended) return
      detach()
      try {
        // On a silent network the closing handshake never completes; nothing waits for it.
        ws.close(code, reason)
      } catch (err) {
        console.error('[collab] closing a WebSocket failed', err)
      }
    },
  }
}
