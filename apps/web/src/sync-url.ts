/** The sync server's WebSocket URL: the server that served this page, on the same host and port. */
export function syncServerUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`
}
