export { type BackoffPolicy, backoffDelay, defaultBackoff } from './backoff.js'
export { CollabProvider, type CollabProviderOptions, type TokenSource } from './collab-provider.js'
export { defaultHeartbeat, type HeartbeatPolicy, type HeartbeatVerdict, heartbeatVerdict } from './heartbeat.js'
export type { ConnectionStatus, ProviderStatus } from './status.js'
