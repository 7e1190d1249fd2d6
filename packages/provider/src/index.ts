export { type BackoffPolicy, backoffDelay, defaultBackoff } from './backoff.js'
export { CollabProvider, type CollabProviderOptions, replacedReason } from './collab-provider.js'
export { Connection, type ConnectionOptions, type SyncChannel, type TokenSource } from './connection.js'
export { defaultHeartbeat, type HeartbeatPolicy, type HeartbeatVerdict, heartbeatVerdict } from './heartbeat.js'
export { LocalStore, type LocalStoreOptions, type LocalStoreState, type LocalStoreStatus } from './local-store.js'
export {
  clearLocalData,
  discardRecoveredCopy,
  type LocalDatabaseOptions,
  type LocalDocumentInfo,
  listLocalDocuments,
  listRecoveredCopies,
  localDocumentBytes,
  type RecoveredCopy,
} from './local-store-db.js'
export { type OtClient, OtProvider, type OtProviderOptions } from './ot-provider.js'
export { type ConnectionStatus, type ProviderStatus, type SaveState, saveStateOf } from './status.js'
export { TabSync } from './tab-sync.js'
export type { TransportKind } from './transport.js'
