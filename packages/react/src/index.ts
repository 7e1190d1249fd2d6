export type { CollabEditor, CollabUser, ConnectionStatus, ProviderStatus } from '@collab/editor'
export { CollabEditorView, type CollabEditorViewProps } from './collab-editor-view.js'
export { type UseCollabEditorOptions, type UseCollabEditorResult, useCollabEditor } from './use-collab-editor.js'
