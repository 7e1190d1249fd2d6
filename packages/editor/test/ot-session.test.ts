// @vitest-environment happy-dom
import { getSyncedVersion, sendableUpdates } from '@codemirror/collab'
import { Transaction } from '@codemirror/state'
import { EditorView } from '@codemirror/view'
import { Teardown, waitFor } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { createCollabEditor, type OtCollabEditor } from '../src/index.js'
import { FakeAuthority } from './fake-authority.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

/** An OT editor connected to `authority`, destroyed after the test. */
function openEditor(
  authority: FakeAuthority,
  name = 'Ada',
  extensions = [] as ReturnType<typeof EditorView.updateListener.of>[],
) {
  const parent = document.createElement('div')
  document.body.append(parent)
  const editor = createCollabEditor({
    parent,
    serverUrl: 'ws://fake',
    docName: 'doc',
    user: { name, color: '#3a7bd5' },
    sync: 'ot',
    WebSocketImpl: authority.socketClass(),
    extensions,
  })
  teardown.defer(() => {
    editor.destroy()
    parent.remove()
  })
  return editor
}

const text = (editor: OtCollabEditor) => editor.view.state.doc.toString()
const synced = (editor: OtCollabEditor) => editor.status.connection === 'synced'

/** Types `insert` at `at` as the user would. */
function type(editor: OtCollabEditor, at: number, insert: string): void {
  editor.view.dispatch({ changes: { from: at, insert }, userEvent: 'input.type' })
}

describe('OT editor (sync: "ot")', () => {
  it('[OT1] connects with sync=ot, gets the document in its welcome, and is read-only until then', async () => {
    const authority = new FakeAuthority('hello\r\nworld')
    const editor = openEditor(authority)
    expect(editor.view.state.readOnly).toBe(true)
    await waitFor('synced', () => synced(editor))
    // [OT5]: "\r\n" stays the two characters it is in the Y.Text.
    expect(text(editor)).toBe('hello\r\nworld')
    expect(editor.view.state.doc.length).toBe(12)
    expect(editor.view.state.readOnly).toBe(false)
    expect(authority.connections[0]?.socket.url).toBe('ws://fake/doc?sync=ot')
  })

  it('[OT2] two editors converge through the authority, and "Saved" waits for the acknowledgement', async () => {
    const authority = new FakeAuthority('abc')
    const a = openEditor(authority, 'Ada')
    const b = openEditor(authority, 'Bob')
    await waitFor('both synced', () => synced(a) && synced(b))
    authority.acknowledge = false
    type(a, 0, 'A')
    type(b, 3, 'B')
    expect(a.status.unsaved).toBe(true)
    await waitFor(
      'convergence',
      () => text(a) === 'AabcB' && text(b) === 'AabcB' && authority.doc.toString() === 'AabcB',
    )
    expect(a.status.unsaved).toBe(true)
    authority.acknowledgeAll()
    await waitFor('saved', () => !a.status.unsaved && !b.status.unsaved)
  })

  it('[OT4] applies received entries one per receiveUpdates call', async () => {
    const authority = new FakeAuthority('0123456789')
    const remoteSteps: number[] = []
    const a = openEditor(authority, 'Ada', [
      EditorView.updateListener.of((update) => {
        for (const tr of update.transactions) if (tr.annotation(Transaction.remote)) remoteSteps.push(tr.changes.length)
      }),
    ])
    await waitFor('synced', () => synced(a))
    a.session.provider.disconnect()
    authority.edit(0, 1, 'x')
    authority.edit(2, 3, 'yy')
    authority.edit(5, 5, 'z')
    remoteSteps.length = 0
    a.session.provider.connect()
    await waitFor('caught up', () => text(a) === authority.doc.toString() && synced(a))
    const welcome = authority.sent.findLast((message) => message.t === 'welcome')
    // [OT2]: the welcome's version is the one the entries start from, the one the client held.
    expect(welcome).toMatchObject({ version: 0, updates: [{}, {}, {}] })
    // Three entries, three transactions: one per receiveUpdates call, never their composition.
    expect(remoteSteps).toEqual([10, 10, 11])
    expect(getSyncedVersion(a.view.state)).toBe(3)
  })

  it('[OT6] a welcome with the whole document keeps the unconfirmed local edits, rebased, and pushes them', async () => {
    const authority = new FakeAuthority('hello world')
    const a = openEditor(authority)
    await waitFor('synced', () => synced(a))
    a.session.provider.disconnect()
    type(a, 0, '>> ')
    type(a, a.view.state.doc.length, '!')
    expect(a.status.unsaved).toBe(true)
    // The server lost its log (an unclean stop): a new epoch, and someone changed the middle meanwhile.
    authority.newEpoch('hello brave world')
    a.session.provider.connect()
    await waitFor('rebased and pushed', () => authority.doc.toString() === '>> hello brave world!')
    expect(text(a)).toBe('>> hello brave world!')
    await waitFor('confirmed and saved', () => sendableUpdates(a.view.state).length === 0 && !a.status.unsaved)
    expect(authority.sent.findLast((message) => message.t === 'welcome')).toMatchObject({ doc: 'hello brave world' })
  })

  it('resends unconfirmed updates after a reconnect, and an applied push is never applied twice', async () => {
    const authority = new FakeAuthority('')
    const a = openEditor(authority)
    await waitFor('synced', () => synced(a))
    // A push lost with its connection: resent after the reconnect.
    authority.dropPushes = true
    type(a, 0, 'one ')
    await waitFor('pushed', () => authority.pushes.length === 1)
    authority.closeAll()
    authority.dropPushes = false
    await waitFor('resent and applied', () => authority.doc.toString() === 'one ', 10_000)
    expect(authority.pushes.at(-1)).toMatchObject({ count: 1 })
    // A push applied, but the connection died before its entry came back: the welcome brings it as our own.
    type(a, 4, 'two')
    await waitFor('applied', () => authority.doc.toString() === 'one two')
    authority.closeAll()
    await waitFor('back', () => synced(a) && sendableUpdates(a.view.state).length === 0, 10_000)
    expect(authority.doc.toString()).toBe('one two')
    expect(text(a)).toBe('one two')
    await waitFor('saved', () => !a.status.unsaved)
  })

  it('[OT7] an applied push whose confirmation was lost is not pushed again after a welcome with the whole document', async () => {
    const authority = new FakeAuthority('hello world')
    const a = openEditor(authority)
    await waitFor('synced', () => synced(a))
    // The push is applied, but its entry never comes back: the connection dies first.
    authority.loseConfirmations = true
    type(a, 5, ',')
    await waitFor('applied', () => authority.doc.toString() === 'hello, world')
    expect(sendableUpdates(a.view.state)).toHaveLength(1)
    authority.closeAll()
    // The server restarts after a crash: a new epoch, so the client gets the whole document, which holds the edit.
    authority.newEpoch(authority.doc.toString())
    authority.loseConfirmations = false
    type(a, 0, '>')
    await waitFor('back', () => synced(a) && sendableUpdates(a.view.state).length === 0, 10_000)
    const welcome = authority.sent.findLast((message) => message.t === 'welcome')
    expect(welcome).toMatchObject({ doc: 'hello, world', applied: 1 })
    // The comma once; the edit made while offline is pushed and applied once too.
    expect(authority.doc.toString()).toBe('>hello, world')
    expect(text(a)).toBe('>hello, world')
    expect(authority.applied.get(welcome?.t === 'welcome' ? welcome.clientID : '')).toBe(2)
  })

  it('[OT6] [OT7] a welcome with the whole document mid-connection after a lost confirmation: the edit appears once', async () => {
    const authority = new FakeAuthority('abc')
    const a = openEditor(authority)
    const b = openEditor(authority, 'Bob')
    await waitFor('both synced', () => synced(a) && synced(b))
    authority.loseConfirmations = true
    type(a, 3, 'X')
    await waitFor('applied', () => authority.doc.toString() === 'abcX' && text(b) === 'abcX')
    authority.loseConfirmations = false
    authority.reset()
    await waitFor('reset', () => synced(a) && sendableUpdates(a.view.state).length === 0)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(text(a)).toBe('abcX')
    expect(authority.doc.toString()).toBe('abcX')
    expect(text(b)).toBe('abcX')
    expect(authority.log.filter((entry) => entry.clientID !== 'yjs')).toHaveLength(1)
    expect(getSyncedVersion(a.view.state)).toBe(authority.version)
  })

  it('[OT6] a push sent before a welcome with the whole document is ignored and pushed again, applied once', async () => {
    const authority = new FakeAuthority('abc')
    const a = openEditor(authority)
    await waitFor('synced', () => synced(a))
    // The push is on its way when someone else edits and the server sends the whole document.
    type(a, 0, 'X')
    authority.edit(3, 3, 'Y')
    authority.reset()
    await waitFor(
      'pushed again',
      () => authority.doc.toString() === 'XabcY' && sendableUpdates(a.view.state).length === 0 && synced(a),
    )
    expect(authority.stalePushes).toBe(1)
    expect(authority.pushes).toHaveLength(2)
    expect(text(a)).toBe('XabcY')
  })

  it('[OT2] draws the peers from presence messages and lists them for the presence bar', async () => {
    const authority = new FakeAuthority('some text here')
    const a = openEditor(authority, 'Ada')
    await waitFor('synced', () => synced(a))
    const seen: string[][] = []
    a.presence.onChange((users) => seen.push(users.map((user) => user.name)))
    authority.sendPresence([
      { id: 7, user: { name: 'Grace', color: '#14958a', colorLight: '#14958a33' }, selection: { anchor: 5, head: 9 } },
      { id: 8, user: null, selection: null },
    ])
    await waitFor('a remote caret', () => a.view.dom.querySelector('.cm-ySelectionInfo') !== null)
    expect(a.view.dom.querySelector('.cm-ySelectionInfo')?.textContent).toBe('Grace')
    expect(a.view.dom.querySelector('.cm-ySelection')?.textContent).toBe('text')
    expect(seen.at(-1)).toEqual(['Ada', 'Anonymous', 'Grace'])
  })

  it('[AU3] a read-only connection keeps the editor read-only and never pushes', async () => {
    const authority = new FakeAuthority('read me')
    authority.readOnly = true
    const a = openEditor(authority)
    await waitFor('synced', () => synced(a))
    expect(a.status.readOnly).toBe(true)
    expect(a.view.state.readOnly).toBe(true)
    expect(authority.pushes).toEqual([])
  })

  it('[OT9] stops on 4501 with a terminal error', async () => {
    const authority = new FakeAuthority('x')
    const a = openEditor(authority)
    await waitFor('synced', () => synced(a))
    authority.closeAll(4501, '@codemirror/collab clients are not supported in cluster mode')
    await waitFor('refused', () => a.status.error !== null)
    expect(a.status).toMatchObject({ connection: 'offline', error: { code: 4501 } })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(authority.connections).toEqual([])
  })
})
