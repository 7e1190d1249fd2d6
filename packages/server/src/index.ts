export { docNameFromUrl } from './admission.js'
export { type Access, type Authenticate, type AuthRequest, type AuthResult, tokenFromRequest } from './auth.js'
export type { Channel, ChannelEvents } from './channel.js'
export { Connection } from './connection.js'
export { closeAnswer, type HttpSyncAnswer, httpStatusOfClose } from './http-channel.js'
export { type HttpSyncRequest, maxPollWaitMs, parseHttpSyncQuery } from './http-sessions.js'
export { defaultLimits, type Limits } from './limits.js'
export { kindOfEncoded, type RefusalReason, type SyncObserver } from './observer.js'
export type { SyncServerOptions } from './options.js'
export type { DocRelay, RelayMembership, RelayPeer } from './relay.js'
export { clientAddress, hostAllowed, originAllowed, parseTrustedProxies } from './request-policy.js'
export { Room } from './room.js'
export type { AwarenessOwner } from './room-awareness.js'
export { createSyncServer, type SyncServer } from './sync-server.js'
export { type UpdateBounds, type UpdateRefusal, UpdateRefusedError } from './update-admission.js'
export type { AuthorRun } from './versions/authorship.js'
export {
  type DocVersions,
  maxVersionNameLength,
  VersionError,
  type VersionErrorKind,
  type VersionInfo,
  versionNameError,
} from './versions/version-history.js'
export { defaultVersionRules, type VersionRules } from './versions/version-policy.js'
