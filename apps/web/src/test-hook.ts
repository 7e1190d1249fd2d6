import type { CollabEditor } from '@collab/editor'

declare global {
  interface Window {
    /**
     * Test hook, not an API: the e2e tests (e2e/) read the open document's editor here to inspect its Y.Doc,
     * awareness and provider status without going through the DOM. Set only while a document page is open.
     */
    collab?: { editor: CollabEditor }
  }
}

/** Publishes `editor` as `window.collab.editor` for the e2e tests; returns the function that withdraws it. */
export function exposeForTests(editor: CollabEditor): () => void {
  window.collab = { editor }
  return () => {
    if (window.collab?.editor === editor) delete window.collab
  }
}
