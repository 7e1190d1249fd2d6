import { Compartment, EditorState, type Extension } from '@codemirror/state'
import { EditorView } from '@codemirror/view'
import { CollabProvider, type ProviderStatus, type TokenSource } from '@collab/provider'
import { basicSetup as codemirrorBasicSetup } from 'codemirror'
import { Awareness } from 'y-protocols/awareness'
import * as Y from 'yjs'
import { collab } from './collab.js'
import { foreignExtensionProblem } from './duplicates.js'
import { OtSession, otCollab } from './ot-session.js'
import { awarenessPresence, type Presence } from './presence.js'
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
  /** Who is typing, as shown to everyone else. Change it later with {@link CollabEditorBase.setUser}. */
  user: CollabUser
  /** Credentials sent to the server's auth hook, or a function that fetches fresh ones for each connection. */
  token?: string | TokenSource
  /**
   * How the editor syncs: `'yjs'` (default) binds it to a Y.Doc, `'ot'` makes it a @codemirror/collab client of
   * the same documents ([OT1]-[OT9] in docs/PROTOCOL.md).
   */
  sync?: 'yjs' | 'ot'
  /** More CodeMirror extensions (a language, keymaps, a theme); they come after the built-in ones. */
  extensions?: Extension[]
  /**
   * `false` leaves out CodeMirror's `basicSetup` (line numbers, history, keymaps...), for hosts that bring their
   * own in `extensions`. Default true.
   */
  basicSetup?: boolean
  /** The WebSocket constructor to use, for environments without a global one. */
  WebSocketImpl?: typeof WebSocket
}

/** What every running collaborative editor has, whichever way it syncs. */
export interface CollabEditorBase {
  readonly view: EditorView
  /** Connection state, whether local changes are not yet stored by the server, read-only, refusal. */
  readonly status: ProviderStatus
  /** Calls `listener` on every status change; returns the function that unsubscribes. */
  onStatus(listener: (status: ProviderStatus) => void): () => void
  /** Who is here, for an online list (the local tab first). */
  readonly presence: Presence
  /** Changes the name and colour others see on this user's cursor and in their presence lists. */
  setUser(user: CollabUser): void
  /** Disconnects and releases everything it created. Idempotent. */
  destroy(): void
}

/** An editor bound to a Yjs document (`sync: 'yjs'`, the default). */
export interface YjsCollabEditor extends CollabEditorBase {
  readonly sync: 'yjs'
  readonly doc: Y.Doc
  /** The document's text, `doc.getText('codemirror')`. */
  readonly ytext: Y.Text
  /** Presence: every connected client's state, including the local `user` field. */
  readonly awareness: Awareness
  readonly provider: CollabProvider
}

/** A @codemirror/collab editor (`sync: 'ot'`); its text is `view.state.doc`. */
export interface OtCollabEditor extends CollabEditorBase {
  readonly sync: 'ot'
  readonly session: OtSession
}

/** A running collaborative editor, as returned by {@link createCollabEditor}. */
export type CollabEditor = YjsCollabEditor | OtCollabEditor

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
  if (typeof options.parent?.appendChild !== 'function')
    throw new RangeError(`Invalid parent ${String(options.parent)}: expected an element`)
  if (options.sync !== undefined && options.sync !== 'yjs' && options.sync !== 'ot')
    throw new RangeError(`Invalid sync ${JSON.stringify(options.sync)}: expected 'yjs' or 'ot'`)
  toAwarenessUser(options.user)
  return options.sync === 'ot' ? createOtEditor(options) : createYjsEditor(options)
}

function createYjsEditor(options: CollabEditorOptions): YjsCollabEditor {
  const { serverUrl, docName, user, token, WebSocketImpl } = options
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
  })

  // Read-only when the server says this connection may only read, or refused the document for good
  // (4401/4403/4404, or a broken setup): edits could never be saved.
  const editability = new Compartment()
  const canEdit = (status: ProviderStatus) => status.error === null && !status.readOnly
  const editableWhen = (status: ProviderStatus) => EditorView.editable.of(canEdit(status))
  const built = buildView(options, ytext.toString(), [
    editability.of(editableWhen(provider.status)),
    collab(ytext, awareness, { undoManager }),
  ])
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

function createOtEditor(options: CollabEditorOptions): OtCollabEditor {
  const { serverUrl, docName, user, token, WebSocketImpl } = options
  const session = new OtSession({
    serverUrl,
    docName,
    user,
    ...(token !== undefined && { token }),
    ...(WebSocketImpl !== undefined && { WebSocketImpl }),
  })
  const built = buildView(options, '', [otCollab(session)])
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

/**
 * The editor with the built-in extensions, the sync's and the host's. Host extensions that this copy of
 * @codemirror/state does not recognise are left out, and the problem is returned instead of thrown: the caller
 * refuses to connect, so the page shows an error rather than a blank space.
 */
function buildView(
  options: CollabEditorOptions,
  doc: string,
  syncExtensions: Extension[],
): { view: EditorView; problem: string | null } {
  const { parent, docName, extensions = [], basicSetup = true } = options
  const builtIn = [
    basicSetup ? codemirrorBasicSetup : [],
    EditorView.lineWrapping,
    calmTheme,
    ...syncExtensions,
    EditorView.contentAttributes.of({ 'aria-label': `Document ${docName}` }),
  ]
  const problem = foreignExtensionProblem(() => EditorState.create({ extensions }))
  const view = new EditorView({ doc, extensions: [...builtIn, ...(problem === null ? extensions : [])], parent })
  return { view, problem }
}

/** Stops the editor from syncing because of a broken setup, and says so where developers look. */
function refuse(problem: string, fail: (reason: string) => void): void {
  console.error(`[collab] @collab/editor cannot start: ${problem}`)
  fail(problem)
}
