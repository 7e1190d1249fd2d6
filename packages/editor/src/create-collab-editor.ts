import { Compartment, type Extension } from '@codemirror/state'
import { EditorView } from '@codemirror/view'
import { CollabProvider, type ProviderStatus, type TokenSource } from '@collab/provider'
import { basicSetup } from 'codemirror'
import { Awareness } from 'y-protocols/awareness'
import * as Y from 'yjs'
import { collab } from './collab.js'
import { calmTheme } from './theme.js'
import { type CollabUser, toAwarenessUser } from './user.js'

/** Name of the Y.Text that holds a document's text, the convention other Yjs CodeMirror clients share. */
export const textName = 'codemirror'

/** Options of {@link createCollabEditor}. */
export interface CollabEditorOptions {
  /** The element the editor is appended to. */
  parent: HTMLElement
  /** WebSocket URL of the sync server, e.g. `wss://collab.example.com`. */
  serverUrl: string
  /** The document to open; several editors with the same name edit the same text. */
  docName: string
  /** Who is typing, as shown to everyone else. Change it later with {@link CollabEditor.setUser}. */
  user: CollabUser
  /** Credentials sent to the server's auth hook, or a function that fetches fresh ones for each connection. */
  token?: string | TokenSource
  /** More CodeMirror extensions (a language, keymaps, a theme); they come after the built-in ones. */
  extensions?: Extension[]
  /** The WebSocket constructor to use, for environments without a global one. */
  WebSocketImpl?: typeof WebSocket
}

/** A running collaborative editor, as returned by {@link createCollabEditor}. */
export interface CollabEditor {
  readonly view: EditorView
  readonly doc: Y.Doc
  /** The document's text, `doc.getText('codemirror')`. */
  readonly ytext: Y.Text
  /** Presence: every connected client's state, including the local `user` field. */
  readonly awareness: Awareness
  readonly provider: CollabProvider
  /** Connection state and whether local changes are not yet stored by the server. */
  readonly status: ProviderStatus
  /** Calls `listener` on every status change; returns the function that unsubscribes. */
  onStatus(listener: (status: ProviderStatus) => void): () => void
  /** Changes the name and colour others see on this user's cursor and in their presence lists. */
  setUser(user: CollabUser): void
  /** Disconnects and releases everything: view, provider, awareness, undo history, document. Idempotent. */
  destroy(): void
}

/**
 * Opens `docName` on the server at `serverUrl` in a new CodeMirror editor inside `parent`: connected, showing
 * remote cursors, with undo limited to this user's own edits. Call `destroy()` when the editor goes away.
 */
export function createCollabEditor(options: CollabEditorOptions): CollabEditor {
  const { parent, serverUrl, docName, user, token, extensions = [], WebSocketImpl } = options
  // Validate before anything is created, so a bad option leaves nothing running behind the exception.
  if (typeof parent?.appendChild !== 'function')
    throw new RangeError(`Invalid parent ${String(parent)}: expected an element`)
  const awarenessUser = toAwarenessUser(user)

  const doc = new Y.Doc()
  const ytext = doc.getText(textName)
  const awareness = new Awareness(doc)
  // Set before connecting, so the first awareness message the others receive already carries our name.
  awareness.setLocalStateField('user', awarenessUser)
  const undoManager = new Y.UndoManager(ytext, { trackedOrigins: new Set() })
  const provider = new CollabProvider({
    serverUrl,
    docName,
    doc,
    awareness,
    ...(token !== undefined && { token }),
    ...(WebSocketImpl !== undefined && { WebSocketImpl }),
  })

  // Read-only when the server says this connection may only read, or refused the document for good
  // (4401/4403/4404): edits could never be saved.
  const editability = new Compartment()
  const canEdit = (status: ProviderStatus) => status.error === null && !status.readOnly
  const editableWhen = (status: ProviderStatus) => EditorView.editable.of(canEdit(status))
  const view = new EditorView({
    doc: ytext.toString(),
    extensions: [
      basicSetup,
      editability.of(editableWhen(provider.status)),
      EditorView.lineWrapping,
      calmTheme,
      collab(ytext, awareness, { undoManager }),
      EditorView.contentAttributes.of({ 'aria-label': `Document ${docName}` }),
      ...extensions,
    ],
    parent,
  })

  let editable = canEdit(provider.status)
  const stopWatchingAccess = provider.onStatus((status) => {
    if (editable === canEdit(status)) return
    editable = canEdit(status)
    view.dispatch({ effects: editability.reconfigure(editableWhen(status)) })
  })

  let destroyed = false
  return {
    view,
    doc,
    ytext,
    awareness,
    provider,
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
