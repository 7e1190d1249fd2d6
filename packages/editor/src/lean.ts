import type { Extension } from '@codemirror/state'
import { type CollabEditorOptions, checkOptions, type YjsCollabEditor } from './editor-parts.js'
import { toAwarenessUser } from './user.js'
import { createYjsEditor } from './yjs-editor.js'

// `@collab/editor/lean`: the Yjs editor without CodeMirror's `basicSetup` and without the @codemirror/collab client,
// for hosts that bring their own setup. A bundler never sees what this entry point does not import.

export { type CollabOptions, collab } from './collab.js'
export {
  type CollabEditorBase,
  type CollabEditorOptions,
  textName,
  type YjsCollabEditor,
} from './editor-parts.js'
export {
  awarenessPresence,
  onPresenceChange,
  type Presence,
  type PresentUser,
  presentUsers,
} from './presence.js'
export { calmTheme } from './theme.js'
export { type AwarenessUser, type CollabUser, lightColor, toAwarenessUser } from './user.js'

/** Options of the lean {@link createCollabEditor}: the same, with the base extensions given rather than built in. */
export interface LeanCollabEditorOptions extends Omit<CollabEditorOptions, 'sync' | 'basicSetup'> {
  /** The base extensions (keymaps, history, line numbers...); nothing by default. Put `basicSetup` here to get it. */
  setup?: Extension
}

/**
 * The Yjs editor of `@collab/editor`'s `createCollabEditor`, with `setup` instead of CodeMirror's `basicSetup`:
 * what a host that chooses its own extensions imports, so its bundle carries neither `basicSetup` nor the OT client.
 */
export function createCollabEditor(options: LeanCollabEditorOptions): YjsCollabEditor {
  const full: CollabEditorOptions = { ...options, sync: 'yjs' }
  checkOptions(full)
  toAwarenessUser(options.user)
  return createYjsEditor(full, options.setup ?? [])
}
