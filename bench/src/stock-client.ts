import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import type * as Y from 'yjs'
import type { WireProtocol } from './client.js'

/** How one connection of a stock client ended, as the client saw it. */
export interface StockClose {
  /** The server's close code; 0 when the client closed the connection itself. */
  code: number
  reason: string
}

/** A system's own client on one document, as an application uses it. */
export interface StockClient {
  /** Resolves once the client reports its first sync with the server. */
  readonly synced: Promise<void>
  destroy(): void
}

/** A WebSocket client class: `ws`, or one built on it. */
type WebSocketConstructor = new (url: string) => WebSocket

/** Where {@link openStockClient} connects, and what it tells its caller. */
export interface StockClientOptions {
  url: string
  protocol: WireProtocol
  name: string
  doc: Y.Doc
  /** Default: the `ws` client (Node 20 has no global WebSocket). */
  WebSocketImpl?: WebSocketConstructor
  /** Called with each close as it happens. */
  onClose?: (close: StockClose) => void
}

/**
 * Opens `name` in `doc` with the system's own client: the stock y-websocket client for the y-websocket protocol
 * (ours, y-websocket-server), HocuspocusProvider for Hocuspocus, each with its default settings (so it reconnects
 * as it would in an application).
 */
export function openStockClient(options: StockClientOptions): StockClient {
  const { url, protocol, name, doc, WebSocketImpl = WebSocket } = options
  const closed = (close: StockClose) => options.onClose?.(close)
  let markSynced: () => void = () => undefined
  const synced = new Promise<void>((resolve) => {
    markSynced = resolve
  })
  if (protocol === 'hocuspocus') {
    const socket = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: WebSocketImpl })
    const provider = new HocuspocusProvider({ websocketProvider: socket, name, document: doc })
    provider.on('synced', ({ state }: { state: boolean }) => {
      if (state) markSynced()
    })
    provider.on('close', ({ event }: { event: StockClose }) => closed({ code: event.code, reason: event.reason }))
    provider.attach()
    return {
      synced,
      destroy: () => {
        provider.destroy()
        socket.destroy()
      },
    }
  }
  const provider = new WebsocketProvider(url, name, doc, {
    // ws implements the parts of the WHATWG WebSocket that y-websocket uses.
    WebSocketPolyfill: WebSocketImpl as unknown as typeof globalThis.WebSocket,
    disableBc: true,
  })
  provider.on('sync', (state: boolean) => {
    if (state) markSynced()
  })
  // `null` when the client closed the connection itself (its watchdog, or destroy).
  provider.on('connection-close', (event: StockClose | null) =>
    closed({ code: event?.code ?? 0, reason: event?.reason ?? 'closed by the client' }),
  )
  return { synced, destroy: () => provider.destroy() }
}
