import type { CollabEditor, ProviderStatus } from '@collab/editor'
import { type CSSProperties, useEffect, useLayoutEffect, useRef } from 'react'
import { type UseCollabEditorOptions, useCollabEditor } from './use-collab-editor.js'

/** Props of {@link CollabEditorView}: the editor's options plus the element's class and style. */
export interface CollabEditorViewProps extends UseCollabEditorOptions {
  /** Class of the element the editor fills (give it a height: the editor takes the height of its parent). */
  className?: string
  style?: CSSProperties
  /** Called with each new status, and with the first one of every new editor. */
  onStatus?: (status: ProviderStatus, editor: CollabEditor) => void
  /** Called with the editor once it runs, and with `null` when it is destroyed (unmount, new document). */
  onEditor?: (editor: CollabEditor | null) => void
}

/**
 * A `<div>` holding a collaborative editor of `docName`: `useCollabEditor` as a component. Status changes reach
 * `onStatus`; for a status line rendered beside the editor, use the hook, which re-renders on them.
 */
export function CollabEditorView({ className, style, onStatus, onEditor, ...options }: CollabEditorViewProps) {
  const { ref, editor, status } = useCollabEditor(options)
  // Callbacks are usually new functions on every render; only a new editor or status should call them.
  const callbacks = useRef({ onStatus, onEditor })
  useLayoutEffect(() => {
    callbacks.current = { onStatus, onEditor }
  })
  useEffect(() => {
    if (editor === null) return
    callbacks.current.onEditor?.(editor)
    // Also on unmount, when no render with a `null` editor follows.
    return () => callbacks.current.onEditor?.(null)
  }, [editor])
  useEffect(() => {
    if (editor !== null && status !== null) callbacks.current.onStatus?.(status, editor)
  }, [editor, status])
  return <div ref={ref} className={className} style={style} />
}
