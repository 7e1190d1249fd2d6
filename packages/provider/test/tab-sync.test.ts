import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { TabSync, tabChannelName } from '../src/tab-sync.js'
import { waitFor } from './harness.js'

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})

let names = 0
/** A fresh channel name per test, so that tests never hear each other. */
const freshName = () => `tab-sync-test-${process.pid}-${names++}`

/** A tab: a Y.Doc shared through TabSync on `name`. */
function tab(name: string) {
  const doc = new Y.Doc()
  const sync = new TabSync(doc, name)
  const text = doc.getText('codemirror')
  cleanups.push(() => {
    sync.destroy()
    doc.destroy()
  })
  return { doc, sync, text }
}

/** Every message posted on the document's channel, as a raw BroadcastChannel (not a tab: it never says hello). */
function listen(name: string): Array<{ type: string }> {
  const seen: Array<{ type: string }> = []
  const channel = new BroadcastChannel(tabChannelName(name))
  channel.onmessage = (event: MessageEvent) => seen.push(event.data as { type: string })
  cleanups.push(() => channel.close())
  return seen
}

/** Lets every message posted so far arrive. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50))

describe('TabSync', () => {
  it('a tab alone posts no change; once another tab is there it does, and after that tab left it stops again', async () => {
    const name = freshName()
    const seen = listen(name)
    const a = tab(name)
    for (let i = 0; i < 20; i++) a.text.insert(a.text.length, 'x')
    await settle()
    expect(seen.filter((m) => m.type === 'update')).toHaveLength(0)

    const b = tab(name)
    await waitFor('b has what a typed alone', () => b.text.toString() === 'x'.repeat(20))
    a.text.insert(0, 'a')
    await waitFor('b has a’s next change', () => b.text.toString().startsWith('a'))
    expect(seen.filter((m) => m.type === 'update').length).toBeGreaterThan(0)

    b.sync.destroy()
    await settle()
    const before = seen.filter((m) => m.type === 'update').length
    for (let i = 0; i < 5; i++) a.text.insert(0, 'y')
    await settle()
    expect(seen.filter((m) => m.type === 'update')).toHaveLength(before)
  })

  it('what a joining tab changes before it heard of the others still reaches them', async () => {
    const name = freshName()
    const a = tab(name)
    a.text.insert(0, 'from a. ')
    const b = tab(name)
    // Synchronously after it said hello: no other tab is known to b yet, so this is not posted as a change.
    b.text.insert(0, 'early b. ')
    await waitFor(
      'both hold both',
      () => a.text.toString() === b.text.toString() && a.text.toString().includes('early b. '),
    )
    expect(a.text.toString()).toContain('from a. ')
  })

  it('a third tab joins two: every change reaches every tab', async () => {
    const name = freshName()
    const tabs = [tab(name), tab(name)]
    await settle()
    tabs.push(tab(name))
    for (const [i, t] of tabs.entries()) t.text.insert(0, `${i}`)
    await waitFor('all hold all three changes', () =>
      tabs.every((t) => t.text.length === 3 && t.text.toString() === tabs[0]!.text.toString()),
    )
  })
})
