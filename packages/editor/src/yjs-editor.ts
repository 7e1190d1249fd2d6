import { Compartment, type Extension } from '@codemirror/state'
import { EditorView } from '@codemirror/view'
import { CollabProvider, type ProviderStatus } from '@collab/provider'
import { Awareness } from 'y-protocols/awareness'
import * as Y from 'yjs'
import { collab } from './collab.js'
import { buildView, type CollabEditorOptions, refuse, textName, type YjsCollabEditor } from './editor-parts.js'
import { awarenessPresence } from './presence.js'
import { toAwarenessUser } from './user.js'

/** The Yjs editor with `setup` as its base extensions (CodeMirror's `basicSetup`, or the host's choice). */
export function createYjsEditor(options: CollabEditorOptions, setup: Extension): YjsCollabEditor {
  const { serverUrl, docName, user, token, WebSocketImpl, localStore } = options
  const doc = new Y.Doc()
  const ytext = doc.getText(textName)
  const awareness = new Awareness(doc)
  // Set before connecting, so the first awareness message the others receive already carries our name.
  awareness.setLocalStateField('user', toAwarenessUser(user))
  const undoManager = new Y.UndoManager(ytext, { trackedOrigins: new Set() })
  // The provider refuses a document from another copy of Yjs itself (status error, console error).
  const provider = new CollabProvider({
    serverUrl,
    docName,
    doc,
    awareness,
    ...(token !== undefined && { token }),
    ...(WebSocketImpl !== undefined && { WebSocketImpl }),
    ...(localStore !== undefined && { localStore }),
  })

  // Read-only when the server says this connection may only read, or refused the document for good
  // (4401/4403/4404, or a broken setup): edits could never be saved.
  const editability = new Compartment()
  const canEdit = (status: ProviderStatus) => status.error === null && !status.readOnly
  const editableWhen = (status: ProviderStatus) => EditorView.editable.of(canEdit(status))
  const built = buildView(
    options,
    ytext.toString(),
    [editability.of(editableWhen(provider.status)), collab(ytext, awareness, { undoManager })],
    setup,
  )
  if (built.problem !== null) refuse(built.problem, (reason) => provider.fail(reason))
  const view = built.view
  let editable = canEdit(provider.status)
  if (built.problem !== null) view.dispatch({ effects: editability.reconfigure(editableWhen(provider.status)) })
  const stopWatchingAccess = provider.onStatus((status) => {
    if (editable === canEdit(status)) return
    editable = canEdit(status)
    view.dispatch({ effects: editability.reconfigure(editableWhen(status)) })
  })

  let destroyed = false
  return {
    sync: 'yjs',
    view,
    doc,
    ytext,
    awareness,
    provider,
    presence: awarenessPresence(awareness),
    get status() {
      return provider.status
    },
    onStatus: (listener) => provider.onStatus(listener),
    setUser(next) {
      awareness.setLocalStateField('user', toAwarenessUser(next))
    },
    destroy() {
      if (destroyed) return
      destroyed = true
      stopWatchingAccess()
      view.destroy()
      provider.destroy()
      // The provider does not own the awareness: without this its renewal interval keeps running.
      awareness.destroy()
      undoManager.destroy()
      doc.destroy()
    },
  }
}
