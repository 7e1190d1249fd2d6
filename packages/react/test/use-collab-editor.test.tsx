import type { CollabEditor, CollabEditorOptions } from '@collab/editor'
import { createSyncServer, type SyncServer } from '@collab/server'
import { MemoryDocStore } from '@collab/storage'
import { type LoopbackServer, listenOnLoopback, Teardown, waitFor } from '@collab/test-support'
import { pino } from 'pino'
import { act, StrictMode, useState } from 'react'
import { createRoot, type Root } from 'react-dom/client'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { WebSocket } from 'ws'
import { CollabEditorView, useCollabEditor } from '../src/index.js'

// Every editor the binding creates, and whether it was destroyed: the real factory, watched.
const created: { options: CollabEditorOptions; editor: CollabEditor; destroyed: boolean }[] = []
vi.mock('@collab/editor', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@collab/editor')>()
  return {
    ...actual,
    createCollabEditor(options: CollabEditorOptions) {
      const editor = actual.createCollabEditor(options)
      const entry = { options, editor, destroyed: false }
      created.push(entry)
      const destroy = editor.destroy
      editor.destroy = () => {
        entry.destroyed = true
        destroy()
      }
      return editor
    },
  }
})

// React warns about state updates outside act() unless told this is a test environment.
;(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true

const teardown = new Teardown()
let server: LoopbackServer<SyncServer>
let container: HTMLElement
let root: Root
/** The token of every connection the server admitted, in order. */
const tokens: (string | null)[] = []

/** The engine on a loopback port (the same one when given), recording tokens. */
function startServer(port?: number): Promise<LoopbackServer<SyncServer>> {
  const sync = createSyncServer({
    store: new MemoryDocStore(),
    logger: pino({ level: 'silent' }),
    authenticate: ({ token }) => {
      tokens.push(token)
      return { ok: true, access: 'write' }
    },
  })
  return listenOnLoopback(sync, { teardown, ...(port !== undefined && { port }) })
}

beforeEach(async () => {
  server = await startServer()
  container = document.createElement('div')
  document.body.append(container)
  root = createRoot(container)
})

afterEach(async () => {
  await act(async () => root.unmount())
  container.remove()
  created.length = 0
  tokens.length = 0
  await teardown.run()
})

const WebSocketImpl = WebSocket as unknown as typeof globalThis.WebSocket
const ada = { name: 'Ada', color: '#3b82f6' }

const running = () => created.filter((entry) => !entry.destroyed)

/** Renders `ui` and lets effects and state updates settle. */
async function render(ui: React.ReactNode): Promise<void> {
  await act(async () => root.render(ui))
}

/** A status line beside the editor, as a host app renders one with the hook. */
function StatusLine({ docName, user = ada }: { docName: string; user?: { name: string; color: string } }) {
  const { ref, status } = useCollabEditor({ serverUrl: server.url, docName, user, WebSocketImpl })
  return (
    <>
      <output>{status === null ? 'none' : `${status.connection} ${status.unsaved ? 'saving' : 'saved'}`}</output>
      <div ref={ref} />
    </>
  )
}

/** An editor whose token function returns `token`. */
function WithToken({ token }: { token: string }) {
  const { ref } = useCollabEditor({
    serverUrl: server.url,
    docName: 'token',
    user: ada,
    WebSocketImpl,
    token: () => token,
  })
  return <div ref={ref} />
}

/** An editor with a button that unmounts it, reporting to the arrays given. */
function ClosableEditor({ editors, statuses }: { editors: (CollabEditor | null)[]; statuses: string[] }) {
  const [shown, setShown] = useState(true)
  return (
    <>
      <button type="button" onClick={() => setShown(false)}>
        close
      </button>
      {shown && (
        <CollabEditorView
          className="editor"
          serverUrl={server.url}
          docName="view"
          user={ada}
          WebSocketImpl={WebSocketImpl}
          onEditor={(editor) => editors.push(editor)}
          onStatus={(status) => statuses.push(status.connection)}
        />
      )}
    </>
  )
}

const statusText = () => container.querySelector('output')?.textContent

describe('useCollabEditor', () => {
  it('under StrictMode leaves exactly one editor and one connection, and destroys it on unmount', async () => {
    await render(
      <StrictMode>
        <StatusLine docName="strict" />
      </StrictMode>,
    )
    // StrictMode mounts, unmounts and mounts again: the first editor must be gone, view and socket.
    expect(created).toHaveLength(2)
    expect(created[0]?.destroyed).toBe(true)
    expect(running()).toHaveLength(1)
    expect(container.querySelectorAll('.cm-editor')).toHaveLength(1)
    await waitFor('one connection on the server', () => server.sync.connectionCount === 1)

    await act(async () => root.render(null))
    expect(running()).toHaveLength(0)
    expect(container.querySelectorAll('.cm-editor')).toHaveLength(0)
    await waitFor('no connection left on the server', () => server.sync.connectionCount === 0)
  })

  it('re-renders on status changes: synced, then saving and saved after an edit', async () => {
    await render(<StatusLine docName="status" />)
    await waitFor('the status line to say synced', () => statusText() === 'synced saved')
    const editor = running()[0]?.editor
    if (!editor) throw new Error('no editor')
    const seen: string[] = []
    editor.onStatus((status) => seen.push(status.unsaved ? 'saving' : 'saved'))
    await act(async () => editor.view.dispatch({ changes: { from: 0, insert: 'typed' } }))
    await waitFor('the server to store the edit', () => statusText() === 'synced saved' && seen.includes('saved'))
    expect(seen[0]).toBe('saving')
    expect(server.sync.getRoom('status')?.doc.getText('codemirror').toString()).toBe('typed')
  })

  it('replaces the editor for another document, and renames the user without replacing it', async () => {
    await render(<StatusLine docName="first" />)
    await render(<StatusLine docName="first" user={{ name: 'Grace', color: '#ef4444' }} />)
    expect(created).toHaveLength(1)
    const first = created[0]?.editor
    expect(first && 'awareness' in first ? first.awareness.getLocalState()?.user : null).toMatchObject({
      name: 'Grace',
      color: '#ef4444',
    })

    await render(<StatusLine docName="second" user={{ name: 'Grace', color: '#ef4444' }} />)
    expect(created).toHaveLength(2)
    expect(created[0]?.destroyed).toBe(true)
    expect(created[1]?.options.docName).toBe('second')
    // The new editor starts as the current user: no rename message after it.
    expect(created[1]?.options.user).toEqual({ name: 'Grace', color: '#ef4444' })
  })

  it('asks the token function of the latest render before each connection', async () => {
    await render(<WithToken token="first" />)
    await waitFor('the first connection', () => tokens.length === 1)
    await render(<WithToken token="second" />)
    expect(created).toHaveLength(1)
    // The server dies and comes back on the same port: the reconnect must carry the new token.
    await server.crash()
    server = await startServer(server.port)
    await waitFor('the reconnect', () => tokens.length === 2, 20_000)
    expect(tokens).toEqual(['first', 'second'])
    expect(created).toHaveLength(1)
  })
})

describe('CollabEditorView', () => {
  it('reports the editor and its statuses, and null when it is destroyed', async () => {
    const editors: (CollabEditor | null)[] = []
    const statuses: string[] = []
    await render(
      <StrictMode>
        <ClosableEditor editors={editors} statuses={statuses} />
      </StrictMode>,
    )
    expect(container.querySelectorAll('div.editor .cm-editor')).toHaveLength(1)
    await waitFor('synced', () => statuses.includes('synced'))
    await act(async () => container.querySelector('button')?.click())
    expect(running()).toHaveLength(0)
    expect(editors.at(-1)).toBeNull()
    expect(editors.filter((editor) => editor !== null).at(-1)).toBe(created.at(-1)?.editor)
  })
})
