import type { Extension } from '@codemirror/state'
import { basicSetup as codemirrorBasicSetup } from 'codemirror'
import {
  buildView,
  type CollabEditor,
  type CollabEditorOptions,
  checkOptions,
  type OtCollabEditor,
  refuse,
  type YjsCollabEditor,
} from './editor-parts.js'
import { OtSession, otCollab } from './ot-session.js'
import { toAwarenessUser } from './user.js'
import { createYjsEditor } from './yjs-editor.js'

export {
  type CollabEditor,
  type CollabEditorBase,
  type CollabEditorOptions,
  type OtCollabEditor,
  textName,
  type YjsCollabEditor,
} from './editor-parts.js'

/**
 * Opens `docName` on the server at `serverUrl` in a new CodeMirror editor inside `parent`: connected, showing
 * remote cursors, with undo limited to this user's own edits. Call `destroy()` when the editor goes away.
 *
 * A broken setup (a second copy of Yjs, or `extensions` built with another copy of @codemirror/state) does not
 * start: the editor comes up read-only without the host's extensions, its status says `error: { code: 0, ... }`,
 * and the console names the package and the fix.
 */
export function createCollabEditor(options: CollabEditorOptions & { sync?: 'yjs' }): YjsCollabEditor
export function createCollabEditor(options: CollabEditorOptions & { sync: 'ot' }): OtCollabEditor
export function createCollabEditor(options: CollabEditorOptions): CollabEditor
export function createCollabEditor(options: CollabEditorOptions): CollabEditor {
  // Validate before anything is created, so a bad option leaves nothing running behind the exception.
  checkOptions(options)
  toAwarenessUser(options.user)
  const setup: Extension = options.basicSetup === false ? [] : codemirrorBasicSetup
  return options.sync === 'ot' ? createOtEditor(options, setup) : createYjsEditor(options, setup)
}

function createOtEditor(options: CollabEditorOptions, setup: Extension): OtCollabEditor {
  const { serverUrl, docName, user, token, WebSocketImpl } = options
  const session = new OtSession({
    serverUrl,
    docName,
    user,
    ...(token !== undefined && { token }),
    ...(WebSocketImpl !== undefined && { WebSocketImpl }),
  })
  const built = buildView(options, '', [otCollab(session)], setup)
  // Checked after the view exists: the session connects when it is bound to one, and must stop again.
  if (built.problem !== null) refuse(built.problem, (reason) => session.provider.fail(reason))
  const { view } = built
  let destroyed = false
  return {
    sync: 'ot',
    view,
    session,
    presence: session.presence,
    get status() {
      return session.status
    },
    onStatus: (listener) => session.onStatus(listener),
    setUser: (next) => session.setUser(next),
    destroy() {
      if (destroyed) return
      destroyed = true
      view.destroy()
      session.destroy()
    },
  }
}
