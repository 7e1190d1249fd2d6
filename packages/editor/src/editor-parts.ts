import { EditorState, type Extension } from '@codemirror/state'
import { EditorView } from '@codemirror/view'
import type { CollabProvider, LocalStoreOptions, ProviderStatus, TokenSource } from '@collab/provider'
import type { Awareness } from 'y-protocols/awareness'
import type * as Y from 'yjs'
import { foreignExtensionProblem } from './duplicates.js'
import type { OtSession } from './ot-session.js'
import type { Presence } from './presence.js'
import { calmTheme } from './theme.js'
import type { CollabUser } from './user.js'

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
  /**
   * Keeps a copy of the document in this browser (IndexedDB), so it opens without a network and edits survive a
   * closed tab or a crash while offline; tabs of the same document share edits while the server is unreachable.
   * `true` for the defaults, or the store's options. Default off: a host opts in, because the copy stays on the
   * device after the editor is gone (remove it with `clearLocalData`). Yjs editors only; ignored with `sync: 'ot'`.
   */
  localStore?: boolean | LocalStoreOptions
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
 * No blinking cursor for people who ask their system for less motion (`prefers-reduced-motion: reduce`): the caret
 * stays drawn. CodeMirror animates its cursor layer and sets the animation's name inline on every selection change,
 * so only an `!important` rule outranks it. A blinking caret also keeps the browser drawing a frame twice a second
 * in every open tab that has focus, which the steady one does not.
 */
const steadyCursorForReducedMotion: Extension = EditorView.baseTheme({
  '@media (prefers-reduced-motion: reduce)': {
    '.cm-cursorLayer': { animation: 'none !important' },
  },
})

/**
 * The editor with the built-in extensions, the sync's and the host's. Host extensions that this copy of
 * @codemirror/state does not recognise are left out, and the problem is returned instead of thrown: the caller
 * refuses to connect, so the page shows an error rather than a blank space.
 */
export function buildView(
  options: CollabEditorOptions,
  doc: string,
  syncExtensions: Extension[],
  /** CodeMirror's `basicSetup`, or nothing: the entry point decides, so that one without it never imports it. */
  setup: Extension,
): { view: EditorView; problem: string | null } {
  const { parent, docName, extensions = [] } = options
  const builtIn = [
    setup,
    EditorView.lineWrapping,
    calmTheme,
    steadyCursorForReducedMotion,
    ...syncExtensions,
    EditorView.contentAttributes.of({ 'aria-label': `Document ${docName}` }),
  ]
  const problem = foreignExtensionProblem(() => EditorState.create({ extensions }))
  const view = new EditorView({ doc, extensions: [...builtIn, ...(problem === null ? extensions : [])], parent })
  return { view, problem }
}

/** Stops the editor from syncing because of a broken setup, and says so where developers look. */
export function refuse(problem: string, fail: (reason: string) => void): void {
  console.error(`[collab] @collab/editor cannot start: ${problem}`)
  fail(problem)
}

/** Checks the options every entry point shares, before anything is created. */
export function checkOptions(options: CollabEditorOptions): void {
  if (typeof options.parent?.appendChild !== 'function')
    throw new RangeError(`Invalid parent ${String(options.parent)}: expected an element`)
  if (options.sync !== undefined && options.sync !== 'yjs' && options.sync !== 'ot')
    throw new RangeError(`Invalid sync ${JSON.stringify(options.sync)}: expected 'yjs' or 'ot'`)
}
