import { type ClusterInstance, type ClusterTab, expect, test } from '../support/cluster.js'

// The multi-tab flow against docker/compose.cluster.yaml's deployment, minus Docker: two server instances on one
// PostgreSQL and one Redis, behind docker/nginx.cluster.conf. Every tab goes through nginx; which instance its
// WebSocket reached is read from the instances' own /healthz, and the tests make sure tabs sit on both.

/** The other instance of the two. */
function other(instances: readonly ClusterInstance[], instance: ClusterInstance): ClusterInstance {
  return instances.find((candidate) => candidate !== instance)!
}

/** Characters of a text in order, so that two texts with the same keystrokes compare equal however they interleave. */
const sorted = (text: string) => [...text].sort().join('')

/** Whether `sub`'s characters appear in `text` in the same order (nothing is ever deleted in these tests). */
function isSubsequence(sub: string, text: string): boolean {
  let at = 0
  for (const char of sub) {
    at = text.indexOf(char, at)
    if (at < 0) return false
    at++
  }
  return true
}

/** Waits until the editor shows `text` on screen (remote carets, whose labels hold names, left out). */
async function expectShown(tab: ClusterTab, text: string): Promise<void> {
  const shown = () =>
    tab.editor.evaluate((content) => {
      const copy = content.cloneNode(true) as HTMLElement
      for (const caret of Array.from(copy.querySelectorAll('.cm-ySelectionCaret'))) caret.remove()
      return Array.from(copy.querySelectorAll('.cm-line'), (line) => line.textContent).join('\n')
    })
  await expect.poll(shown).toBe(text)
}

test('tabs on different instances co-edit and converge, and a reload keeps the content', async ({
  cluster,
  openTab,
  reloadTab,
}) => {
  const a = await openTab('cluster-co-edit', { user: 'Ada' })
  const b = await openTab('cluster-co-edit', { user: 'Grace', on: other(cluster.instances, a.instance) })
  expect(b.instance).not.toBe(a.instance)
  expect([...(await cluster.connectionCounts()).values()]).toEqual([1, 1])

  await a.typeAtEnd('Hello from one instance. ')
  await b.expectText('Hello from one instance. ')
  await b.typeAtEnd('And hello from the other.')
  const greeting = 'Hello from one instance. And hello from the other.'
  await a.expectText(greeting)
  await expect(a.editor).toContainText('And hello from the other.')

  // Both typing at once, each keystroke crossing instances through Redis.
  const words = ['alpha ', 'bravo ']
  await Promise.all([a.typeAtEnd(words[0]!.repeat(5), 15), b.typeAtEnd(words[1]!.repeat(5), 15)])
  const expected = greeting + words.map((word) => word.repeat(5)).join('')
  await expect.poll(async () => (await a.text()).length).toBe(expected.length)
  await expect.poll(async () => (await a.text()) === (await b.text())).toBe(true)
  expect(sorted(await a.text())).toBe(sorted(expected))
  await a.expectSaved()
  await b.expectSaved()

  // A reload (wherever nginx sends it) loads what both instances stored in PostgreSQL.
  const text = await a.text()
  for (const tab of [a, b]) {
    await reloadTab(tab)
    await tab.expectText(text)
    await expectShown(tab, text)
  }
})

test('presence crosses instances, and leaves within 10 s when a tab closes', async ({ cluster, openTab }) => {
  const a = await openTab('cluster-presence', { user: 'Ada Lovelace' })
  const b = await openTab('cluster-presence', { user: 'Grace Hopper', on: other(cluster.instances, a.instance) })
  await a.typeAtEnd('Some text to put a cursor in.')
  await expect(b.presenceCount).toContainText('2')
  await expect(a.presenceCount).toContainText('2')
  await expect(b.presenceItems.filter({ hasText: 'Ada Lovelace' })).toHaveCount(1)
  await expect(a.presenceItems.filter({ hasText: 'Grace Hopper' })).toHaveCount(1)
  const caret = b.page.locator('.cm-ySelectionCaret')
  await expect(caret).toHaveCount(1)
  await expect(b.page.locator('.cm-ySelectionInfo')).toHaveText('Ada Lovelace')
  await a.page.keyboard.press('Shift+Home')
  await expect(b.page.locator('.cm-ySelection')).not.toHaveCount(0)

  const closedAt = Date.now()
  await a.context.close()
  await expect(b.presenceItems.filter({ hasText: 'Ada Lovelace' })).toHaveCount(0, { timeout: 10_000 })
  await expect(caret).toHaveCount(0, { timeout: Math.max(1, 10_000 - (Date.now() - closedAt)) })
  const goneMs = Date.now() - closedAt
  await expect(b.presenceCount).not.toContainText('2')
  console.log(`[measured] presence of a closed tab removed on the other instance after ${goneMs} ms`)
  test.info().annotations.push({ type: 'presence removed across instances after', description: `${goneMs} ms` })
})

/** What a tab recorded in the page since `recordStatus`: every status change, and the last acknowledged text. */
interface Recorded {
  log: { at: number; connection: string; unsaved: boolean }[]
  acknowledged: string
}

/** Starts recording the tab's status changes (times from the same clock as the test's) in the page. */
async function recordStatus(tab: ClusterTab): Promise<void> {
  await tab.page.evaluate(() => {
    type Status = { connection: string; unsaved: boolean }
    const editor = window.collab?.editor as unknown as {
      status: Status
      ytext: { toString(): string }
      onStatus(listener: (status: Status) => void): () => void
    }
    const recorded: Recorded = { log: [], acknowledged: editor.status.unsaved ? '' : editor.ytext.toString() }
    ;(window as unknown as { recorded: Recorded }).recorded = recorded
    editor.onStatus((status) => {
      recorded.log.push({ at: Date.now(), connection: status.connection, unsaved: status.unsaved })
      // Everything this tab holds is acknowledged (durably stored) at this moment.
      if (!status.unsaved && status.connection === 'synced') recorded.acknowledged = editor.ytext.toString()
    })
  })
}

function recorded(tab: ClusterTab): Promise<Recorded> {
  return tab.page.evaluate(() => (window as unknown as { recorded: Recorded }).recorded)
}

test('kill -9 of an instance while tabs on both type: its tabs move to the other through nginx, nothing is lost', async ({
  cluster,
  openTab,
  reloadTab,
}) => {
  const name = 'cluster-failover'
  const a = await openTab(name, { user: 'Ada' })
  const b = await openTab(name, { user: 'Grace', on: other(cluster.instances, a.instance) })
  // Wherever nginx sends the third tab, one instance then has two tabs: that one dies.
  const c = await openTab(name, { user: 'Cleo' })
  const tabs = [a, b, c]
  const victim = c.instance
  const survivor = other(cluster.instances, victim)
  const onVictim = tabs.filter((tab) => tab.instance === victim)
  const onSurvivor = tabs.filter((tab) => tab.instance === survivor)
  expect(onVictim).toHaveLength(2)
  expect(onSurvivor).toHaveLength(1)
  await expect(onSurvivor[0]!.presenceItems).toHaveCount(3)
  for (const tab of tabs) await recordStatus(tab)

  // Each tab types its own tokens (letters a, g, c: each tab's keystrokes are told apart in the merged text),
  // pausing briefly between them so that acknowledgements come in while it types. Once every tab has seen some of
  // its own typing acknowledged, and at least a second in, one instance is killed while all three keep typing.
  const prefixes = ['a', 'g', 'c']
  const texts = prefixes.map((prefix) => Array.from({ length: 24 }, (_, i) => `${prefix}${i} `))
  const typing = Promise.all(
    tabs.map(async (tab, i) => {
      await tab.typeAtEnd('')
      for (const token of texts[i]!) {
        await tab.page.keyboard.type(token, { delay: 25 })
        await tab.page.waitForTimeout(40)
      }
    }),
  )
  const typingSince = Date.now()
  await expect
    .poll(
      async () => {
        const acknowledged = await Promise.all(tabs.map(async (tab) => (await recorded(tab)).acknowledged))
        return Date.now() - typingSince >= 1_000 && acknowledged.every((text, i) => text.includes(prefixes[i]!))
      },
      { timeout: 5_000, intervals: [20], message: 'every tab to see some of its typing acknowledged' },
    )
    .toBe(true)
  const acknowledgedBefore = await Promise.all(tabs.map(async (tab) => (await recorded(tab)).acknowledged))
  const killedAt = Date.now()
  await victim.stop('SIGKILL')

  // The tabs of the dead instance notice, reconnect (through nginx, to the survivor) and sync by themselves.
  const recovery: { lost: number; synced: number; log: string }[] = []
  for (const tab of onVictim) {
    const since = async () => (await recorded(tab)).log.filter((entry) => entry.at >= killedAt)
    const syncedAgain = (log: Recorded['log']) => {
      const lost = log.findIndex((entry) => entry.connection !== 'synced')
      return lost < 0 ? undefined : log.slice(lost).find((entry) => entry.connection === 'synced')
    }
    await expect
      .poll(async () => syncedAgain(await since()) !== undefined, { timeout: 15_000, intervals: [50] })
      .toBe(true)
    const log = await since()
    recovery.push({
      lost: log.find((entry) => entry.connection !== 'synced')!.at - killedAt,
      synced: syncedAgain(log)!.at - killedAt,
      log: log.map((entry) => `${entry.at - killedAt}:${entry.connection}${entry.unsaved ? '*' : ''}`).join(' '),
    })
    // It is connected to the survivor now.
    tab.instance = survivor
  }
  console.log(
    `[measured] after kill -9, the tabs of the killed instance lost their connection after ${recovery.map((r) => `${r.lost} ms`).join(', ')} and were synced again on the survivor after ${recovery.map((r) => `${r.synced} ms`).join(', ')}`,
  )
  for (const r of recovery) console.log(`  status changes (ms after the kill, * unsaved): ${r.log}`)
  test.info().annotations.push({
    type: 'recovery after kill -9',
    description: recovery.map((r) => `${r.synced} ms`).join(', '),
  })
  expect(Math.max(...recovery.map((r) => r.synced))).toBeLessThan(5_000)
  expect((await cluster.connectionCounts()).get(survivor)).toBe(3)

  await typing
  const expected = sorted(texts.flat().join(''))
  await expect
    .poll(async () => sorted(await a.text()), { timeout: 15_000, message: 'every keystroke of every tab' })
    .toBe(expected)
  await expect.poll(async () => new Set(await Promise.all(tabs.map((tab) => tab.text()))).size).toBe(1)
  for (const tab of tabs) await tab.expectSaved(15_000)
  const text = await a.text()
  // What each tab had seen acknowledged before the kill is all there, in order.
  for (const [i, acknowledged] of acknowledgedBefore.entries()) {
    expect(isSubsequence(acknowledged, text), `tab ${i}'s acknowledged text is in the final text`).toBe(true)
  }
  // Every acknowledged update is in PostgreSQL (and so is everything else): an instance that never had the
  // document in memory loads exactly the text the tabs show.
  const reader = await cluster.startInstance('reader')
  const { token } = (await (await fetch(`${reader.url}/api/dev-token`)).json()) as { token: string }
  const stored = await fetch(`${reader.url}/api/docs/${name}`, { headers: { authorization: `Bearer ${token}` } })
  expect(stored.status).toBe(200)
  expect(await stored.text()).toBe(text)
  // The tab on the survivor never lost its connection.
  expect((await recorded(onSurvivor[0]!)).log.filter((entry) => entry.connection !== 'synced')).toEqual([])
  // nginx tried the dead instance, and sent the tabs to the survivor.
  expect(cluster.nginx.errorLog()).toContain(`127.0.0.1:${victim.port}`)

  // Once the survivor has declared the dead instance gone (7 s without heartbeats) and removed its clients'
  // presence, the moved tabs are still there: their presence now belongs to their new connections.
  const declared = /relay: instance stopped answering/
  await expect.poll(() => survivor.logEntry(declared), { timeout: 12_000, intervals: [100] }).toBeDefined()
  expect(survivor.logEntry(declared)!.instance).toBe(victim.logEntry(/relaying through Redis/)?.instance)
  const declaredMs = survivor.logEntry(declared)!.time - killedAt
  console.log(`[measured] the survivor declared the killed instance gone ${declaredMs} ms after the kill`)
  for (const tab of tabs) {
    await expect(tab.presenceItems).toHaveCount(3)
    for (const user of ['Ada', 'Grace', 'Cleo'])
      await expect(tab.presenceItems.filter({ hasText: user })).toHaveCount(1)
  }

  // A reload keeps the content: the tab, which typed on the dead instance, loads it from the survivor.
  await reloadTab(onVictim[0]!)
  expect(onVictim[0]!.instance).toBe(survivor)
  await onVictim[0]!.expectText(text)
  await expectShown(onVictim[0]!, text)
})
