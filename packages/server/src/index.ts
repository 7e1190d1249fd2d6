export { Connection } from './connection.js'
export type { SyncServerOptions } from './options.js'
export { Room } from './room.js'
export { createSyncServer, docNameFromUrl, type SyncServer } from './sync-server.js'
