import {
  type CollabEditor,
  type CollabEditorOptions,
  type CollabUser,
  createCollabEditor,
  type ProviderStatus,
} from '@collab/editor'
import { type RefObject, useEffect, useLayoutEffect, useRef, useState } from 'react'

/**
 * Options of {@link useCollabEditor}: those of `createCollabEditor` without `parent`, which is the element the
 * returned `ref` is attached to. A new `serverUrl` or `docName` replaces the editor; a new `user` is applied to
 * the running one; `token` is read again before every connection; the other options are read when the editor is
 * created (give the component a new React `key` to apply new ones).
 */
export type UseCollabEditorOptions = Omit<CollabEditorOptions, 'parent'>

/** What {@link useCollabEditor} returns; the component re-renders when `editor` or `status` changes. */
export interface UseCollabEditorResult<E extends HTMLElement = HTMLDivElement> {
  /** Attach to the element the editor goes into. */
  ref: RefObject<E | null>
  /** The running editor, `null` before the first effect and after unmount. */
  editor: CollabEditor | null
  /** The editor's connection and save status, `null` while there is no editor. */
  status: ProviderStatus | null
}

type TokenFunction = Exclude<NonNullable<CollabEditorOptions['token']>, string>

/**
 * Runs a collaborative editor inside the element of the returned `ref` for as long as the component is mounted.
 * The editor is created in an effect and destroyed in its cleanup, so StrictMode's mount, unmount and mount again
 * leaves exactly one editor running and one socket open.
 */
export function useCollabEditor<E extends HTMLElement = HTMLDivElement>(
  options: UseCollabEditorOptions,
): UseCollabEditorResult<E> {
  const ref = useRef<E>(null)
  // The latest options, for what is read later than the render that passed them (token, user). Written in a layout
  // effect, which runs before the effect below, rather than during render, which React may throw away.
  const latest = useRef(options)
  useLayoutEffect(() => {
    latest.current = options
  })
  const [current, setCurrent] = useState<{ editor: CollabEditor; status: ProviderStatus } | null>(null)
  // The user the running editor shows to the others: a new editor starts with the latest one.
  const announced = useRef<CollabUser | null>(null)
  const { serverUrl, docName } = options

  useEffect(() => {
    const parent = ref.current
    if (parent === null) {
      throw new RangeError(
        `useCollabEditor(${JSON.stringify(docName)}): the returned ref is not attached to an element`,
      )
    }
    const { token, ...rest } = latest.current
    const editor = createCollabEditor({
      ...rest,
      parent,
      serverUrl,
      docName,
      // A function, so a token passed in a later render is the one the next connection uses.
      ...(token !== undefined && {
        token: (...args: Parameters<TokenFunction>) => {
          const source = latest.current.token ?? token
          return typeof source === 'function' ? source(...args) : source
        },
      }),
    })
    announced.current = { name: rest.user.name, color: rest.user.color }
    setCurrent({ editor, status: editor.status })
    const stopListening = editor.onStatus((status) => setCurrent({ editor, status }))
    return () => {
      stopListening()
      editor.destroy()
      setCurrent(null)
    }
  }, [serverUrl, docName])

  const editor = current?.editor ?? null
  const { name, color } = options.user
  useEffect(() => {
    const shown = announced.current
    if (editor === null || shown === null || (shown.name === name && shown.color === color)) return
    announced.current = { name, color }
    editor.setUser({ name, color })
  }, [editor, name, color])

  return { ref, editor, status: current?.status ?? null }
}
