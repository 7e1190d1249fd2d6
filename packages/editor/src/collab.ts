import { type Extension, Prec } from '@codemirror/state'
import { keymap } from '@codemirror/view'
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next'
import type { Awareness } from 'y-protocols/awareness'
import * as Y from 'yjs'

/** Options of {@link collab}. */
export interface CollabOptions {
  /**
   * The undo manager behind Mod-z / Mod-y. By default a new one that tracks only the edits made in this editor,
   * so undo never reverts what somebody else typed. `false` leaves undo to the app.
   */
  undoManager?: Y.UndoManager | false
}

/**
 * Binds an editor to `ytext`: local edits go into the Y.Text, remote ones come out of it; remote cursors and
 * selections are drawn in each user's colour with their name (read from the awareness field `user`); Mod-z and
 * Mod-y undo and redo this editor's own changes. Add the result to an editor state's extensions.
 */
export function collab(ytext: Y.Text, awareness: Awareness, options: CollabOptions = {}): Extension {
  const undoManager = options.undoManager ?? createLocalUndoManager(ytext)
  const binding = yCollab(ytext, awareness, { undoManager })
  if (undoManager === false) return binding
  // basicSetup binds Mod-z to CodeMirror's own history, which would also revert remote edits. Ours must win.
  return Prec.high([binding, keymap.of(yUndoManagerKeymap)])
}

/**
 * An undo manager for `ytext` that tracks no origin of its own: the binding registers itself as the one tracked
 * origin, so only this editor's edits are undoable, never remote updates or programmatic changes.
 */
function createLocalUndoManager(ytext: Y.Text): Y.UndoManager {
  return new Y.UndoManager(ytext, { trackedOrigins: new Set() })
}
