export {
  type ConnectionStatus,
  clearLocalData,
  discardRecoveredCopy,
  type LocalDocumentInfo,
  type LocalStoreOptions,
  type LocalStoreStatus,
  listLocalDocuments,
  type ProviderStatus,
  type SaveState,
  saveStateOf,
} from '@collab/provider'
export { type CollabOptions, collab } from './collab.js'
export {
  type CollabEditor,
  type CollabEditorBase,
  type CollabEditorOptions,
  createCollabEditor,
  type OtCollabEditor,
  textName,
  type YjsCollabEditor,
} from './create-collab-editor.js'
export { type RecoveredText, recoveredTexts } from './local-copies.js'
export { OtSession, type OtSessionOptions, otCollab } from './ot-session.js'
export {
  awarenessPresence,
  onPresenceChange,
  type Presence,
  type PresentUser,
  presentUsers,
  whenUsersChange,
} from './presence.js'
export { calmTheme } from './theme.js'
export { type AwarenessUser, type CollabUser, lightColor, toAwarenessUser } from './user.js'
