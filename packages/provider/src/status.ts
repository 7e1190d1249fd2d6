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
}

export function sameStatus(a: ProviderStatus, b: ProviderStatus): boolean {
  return (
    a.connection === b.connection &&
    a.unsaved === b.unsaved &&
    a.readOnly === b.readOnly &&
    a.error?.code === b.error?.code &&
    a.error?.reason === b.error?.reason
  )
}
