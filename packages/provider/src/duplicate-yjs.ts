import * as Y from 'yjs'

/** The global flag every copy of Yjs sets when it is imported (and checks, to warn about a second copy). */
const importMarker = '__ $YJS$ __'

const fix =
  'make sure one copy of yjs is installed and bundled: `npm ls yjs` / `npm dedupe yjs`, yjs as a peer ' +
  "dependency of your packages, and `resolve: { dedupe: ['yjs'] }` in Vite"

let laterCopies = 0
const laterCopyListeners = new Set<() => void>()

// This module runs right after our copy of Yjs set the flag. Turning the flag into an accessor lets us see every
// copy imported after ours (each sets it again); reading it still gives `true`, so Yjs's own warning still works.
// A copy imported before ours only shows in Yjs's console warning, and in documents that fail `instanceof`.
const descriptor = Object.getOwnPropertyDescriptor(globalThis, importMarker)
if (descriptor !== undefined && 'value' in descriptor && descriptor.configurable) {
  Object.defineProperty(globalThis, importMarker, {
    configurable: true,
    get: () => true,
    set: () => {
      laterCopies++
      for (const listener of [...laterCopyListeners]) listener()
    },
  })
}

/**
 * Why `doc` cannot be synced by this provider: it comes from another copy of Yjs (which breaks Yjs's `instanceof`
 * checks and so its merging), or another copy was imported after ours. `null` when all is well.
 */
export function yjsSetupProblem(doc: unknown): string | null {
  if (!(doc instanceof Y.Doc)) return `the Y.Doc comes from another copy of yjs than @collab/provider's; ${fix}`
  if (laterCopies > 0) return `a second copy of yjs was imported after @collab/provider's; ${fix}`
  return null
}

/** Calls `listener` when another copy of Yjs is imported from now on; returns the function that unsubscribes. */
export function onLaterYjsCopy(listener: () => void): () => void {
  laterCopyListeners.add(listener)
  return () => laterCopyListeners.delete(listener)
}
