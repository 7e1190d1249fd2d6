import { afterEach, describe, expect, it } from 'vitest'
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness'
import * as Y from 'yjs'
import { onPresenceChange, presentUsers } from './presence.js'

const docs: Y.Doc[] = []
const awarenesses: Awareness[] = []

function createAwareness(): Awareness {
  const doc = new Y.Doc()
  const awareness = new Awareness(doc)
  docs.push(doc)
  awarenesses.push(awareness)
  return awareness
}

/** Copies `from`'s local state into `to`, as a relay through the server would. */
function relay(from: Awareness, to: Awareness): void {
  applyAwarenessUpdate(to, encodeAwarenessUpdate(from, [from.clientID]), 'test')
}

afterEach(() => {
  for (const awareness of awarenesses.splice(0)) awareness.destroy()
  for (const doc of docs.splice(0)) doc.destroy()
})

describe('presentUsers', () => {
  it('lists the local tab first, then the others by name', () => {
    const local = createAwareness()
    local.setLocalStateField('user', { name: 'Zoe', color: '#111111' })
    for (const name of ['Bob', 'Amy']) {
      const remote = createAwareness()
      remote.setLocalStateField('user', { name, color: '#222222' })
      relay(remote, local)
    }
    expect(presentUsers(local).map((user) => [user.name, user.isLocal])).toEqual([
      ['Zoe', true],
      ['Amy', false],
      ['Bob', false],
    ])
  })

  it('counts a client without a usable user field as Anonymous', () => {
    const local = createAwareness()
    const remote = createAwareness()
    remote.setLocalStateField('user', { name: 42, color: null })
    relay(remote, local)
    const other = presentUsers(local).find((user) => !user.isLocal)
    expect(other).toMatchObject({ name: 'Anonymous', color: '#8a94a6' })
  })
})

describe('onPresenceChange', () => {
  it('reports at once, then on every arrival and rename, and stops after unsubscribing', () => {
    const local = createAwareness()
    local.setLocalStateField('user', { name: 'Ada', color: '#111111' })
    const seen: string[][] = []
    const unsubscribe = onPresenceChange(local, (users) => seen.push(users.map((user) => user.name)))
    const remote = createAwareness()
    remote.setLocalStateField('user', { name: 'Bob', color: '#222222' })
    relay(remote, local)
    local.setLocalStateField('user', { name: 'Ada L.', color: '#111111' })
    unsubscribe()
    local.setLocalStateField('user', { name: 'ignored', color: '#111111' })
    expect(seen).toEqual([['Ada'], ['Ada', 'Bob'], ['Ada L.', 'Bob']])
  })

  it('does not report cursor moves: a remote keystroke does not redraw the online list', () => {
    const local = createAwareness()
    local.setLocalStateField('user', { name: 'Ada', color: '#111111' })
    const remote = createAwareness()
    remote.setLocalStateField('user', { name: 'Bob', color: '#222222' })
    relay(remote, local)
    let calls = 0
    const unsubscribe = onPresenceChange(local, () => calls++)
    for (let i = 0; i < 5; i++) {
      remote.setLocalStateField('cursor', { anchor: i, head: i })
      relay(remote, local)
    }
    expect(calls).toBe(1)
    remote.setLocalStateField('user', { name: 'Bob', color: '#333333' })
    relay(remote, local)
    expect(calls).toBe(2)
    unsubscribe()
  })
})
