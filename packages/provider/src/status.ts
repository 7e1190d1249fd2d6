import type { LocalStoreStatus } from './local-store.js'
import type { TransportKind } from './transport.js'

/** Where the connection to the server stands. */
export type ConnectionStatus = 'connecting' | 'connected' | 'synced' | 'offline'

/** What a UI shows about a document's connection. */
export interface ProviderStatus {
  /**
   * `connecting` (opening a socket, or waiting to retry), `connected` (open, initial sync under way), `synced`
   * (open, and the server's state has been received) or `offline` (not trying: disconnected by the app, refused
   * for good, or the browser reports no network; it retries at once when the network returns).
   */
  connection: ConnectionStatus
  /** Local changes the server has not yet acknowledged as durably stored. */
  unsaved: boolean
  /** The server lets this connection read but not write ([AU3]); local edits would not be stored. */
  readOnly: boolean
  /** Set when the server refused us for good (4401/4403/4404); the provider stopped retrying. */
  error: { code: number; reason: string } | null
  /**
   * What carries the connection (or carried it last): `websocket`, or `http` (long-polling, [HT1]) where the
   * network refuses WebSocket. Either way the document behaves the same.
   */
  transport: TransportKind
  /**
   * Where the local changes are kept: `server` (acknowledged as stored there), `device` (in this browser's local
   * store, not yet acknowledged by the server) or `none` (only in this tab's memory). Present when the provider has
   * a local store; read it with {@link saveStateOf}, which also answers for providers without one.
   */
  saved?: SaveState
  /** The local store (IndexedDB), when the provider has one: see {@link LocalStoreStatus}. */
  localStore?: LocalStoreStatus
}

/** The three honest answers to "is my work safe?". */
export type SaveState = 'server' | 'device' | 'none'

/** Where local changes are kept: `status.saved`, or for a provider without a local store, `server` or `none`. */
export function saveStateOf(status: ProviderStatus): SaveState {
  return status.saved ?? (status.unsaved ? 'none' : 'server')
}

export function sameStatus(a: ProviderStatus, b: ProviderStatus): boolean {
  return (
    a.connection === b.connection &&
    a.unsaved === b.unsaved &&
    a.readOnly === b.readOnly &&
    a.error?.code === b.error?.code &&
    a.error?.reason === b.error?.reason &&
    a.transport === b.transport &&
    a.saved === b.saved &&
    a.localStore?.state === b.localStore?.state &&
    a.localStore?.written === b.localStore?.written &&
    a.localStore?.problem === b.localStore?.problem
  )
}
