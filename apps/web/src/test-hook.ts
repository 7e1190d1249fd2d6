import type { CollabEditor, OtCollabEditor } from '@collab/editor'

/**
 * What the e2e tests read as `window.collab.editor`: the editor itself in Yjs mode. In OT mode there is no Y.Text,
 * so the editor is published with a read-only stand-in `ytext` whose `toString()` and `length` are the editor's
 * text: the tests' helpers (`text()`, `waitSynced()`) then work unchanged in both modes.
 */
export type TestHookEditor =
  | CollabEditor
  | (OtCollabEditor & { readonly ytext: { toString(): string; length: number } })

declare global {
  interface Window {
    /**
     * Test hook, not an API: the e2e tests (e2e/) read the open document's editor here to inspect its text,
     * awareness and provider status without going through the DOM. Set only while a document page is open.
     * `sync` says which client the page runs; `text()` is the document's text in either mode.
     */
    collab?: { editor: TestHookEditor; sync: 'yjs' | 'ot'; text(): string }
  }
}

/** Publishes `editor` as `window.collab.editor` for the e2e tests; returns the function that withdraws it. */
export function exposeForTests(editor: CollabEditor): () => void {
  const published = editor.sync === 'ot' ? withTextStandIn(editor) : editor
  window.collab = { editor: published, sync: editor.sync, text: () => editor.view.state.doc.toString() }
  return () => {
    if (window.collab?.editor === published) delete window.collab
  }
}

function withTextStandIn(editor: OtCollabEditor): TestHookEditor {
  const ytext = {
    toString: () => editor.view.state.doc.toString(),
    get length() {
      return editor.view.state.doc.length
    },
  }
  // A prototype link rather than a copy, so `status` stays the live getter it is on the editor.
  return Object.assign(Object.create(editor) as OtCollabEditor, { ytext })
}
