// @vitest-environment happy-dom
import type { Extension } from '@codemirror/state'
import { EditorView } from '@codemirror/view'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createCollabEditor } from '../src/index.js'
import { FakeAuthority } from './fake-authority.js'

afterEach(() => vi.restoreAllMocks())

/** What an extension from another copy of @codemirror/state looks like to ours: an object it does not know. */
const foreignExtension = { extension: 'from another @codemirror/state' } as unknown as Extension

describe('createCollabEditor', () => {
  it.each(['yjs', 'ot'] as const)(
    '[%s] refuses to start on extensions from another copy of @codemirror/state, with status error and a console error',
    (sync) => {
      const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined)
      const editor = createCollabEditor({
        parent: document.createElement('div'),
        serverUrl: 'ws://fake',
        docName: 'doc',
        user: { name: 'Ada', color: '#3a7bd5' },
        sync,
        extensions: [foreignExtension],
        WebSocketImpl: new FakeAuthority().socketClass(),
      })
      expect(editor.status).toMatchObject({ connection: 'offline', error: { code: 0 } })
      expect(editor.status.error?.reason).toMatch(/another copy of @codemirror\/state/)
      expect(String(logged.mock.calls[0]?.[0])).toMatch(/@collab\/editor cannot start: .*dedupe/)
      expect(editor.view.state.facet(EditorView.editable)).toBe(false)
      editor.destroy()
    },
  )

  it('leaves basicSetup out with basicSetup: false', () => {
    const withSetup = createCollabEditor({
      parent: document.createElement('div'),
      serverUrl: 'ws://fake',
      docName: 'doc',
      user: { name: 'Ada', color: '#3a7bd5' },
      WebSocketImpl: new FakeAuthority().socketClass(),
    })
    const bare = createCollabEditor({
      parent: document.createElement('div'),
      serverUrl: 'ws://fake',
      docName: 'doc',
      user: { name: 'Ada', color: '#3a7bd5' },
      basicSetup: false,
      WebSocketImpl: new FakeAuthority().socketClass(),
    })
    expect(withSetup.view.dom.querySelector('.cm-lineNumbers')).not.toBeNull()
    expect(bare.view.dom.querySelector('.cm-lineNumbers')).toBeNull()
    withSetup.destroy()
    bare.destroy()
  })
})
