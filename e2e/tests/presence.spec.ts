import { expect, test } from '../support/fixtures.js'

test("tab A's cursor and name appear in tab B, and leave within 10 s of A closing", async ({ openDoc }) => {
  const a = await openDoc('presence', { user: 'Ada Lovelace' })
  const b = await openDoc('presence', { user: 'Grace Hopper' })
  await a.typeAtEnd('Some text to put a cursor in.')
  await expect(b.presenceCount).toContainText('2')
  await expect(b.presenceItems.filter({ hasText: 'Ada Lovelace' })).toHaveCount(1)
  // y-codemirror.next draws remote carets with the user's name in a label.
  const caret = b.page.locator('.cm-ySelectionCaret')
  await expect(caret).toHaveCount(1)
  await expect(b.page.locator('.cm-ySelectionInfo')).toHaveText('Ada Lovelace')
  // Select some text in A: B shows it highlighted.
  await a.page.keyboard.press('Shift+Home')
  await expect(b.page.locator('.cm-ySelection')).not.toHaveCount(0)

  const closedAt = Date.now()
  await a.page.context().close()
  await expect(b.presenceItems.filter({ hasText: 'Ada Lovelace' })).toHaveCount(0, { timeout: 10_000 })
  await expect(caret).toHaveCount(0, { timeout: 10_000 - (Date.now() - closedAt) })
  await expect(b.presenceCount).not.toContainText('2')
})

test('presence survives a reconnect without duplicates', async ({ openDoc }) => {
  const a = await openDoc('presence-reconnect', { user: 'Ada' })
  const b = await openDoc('presence-reconnect', { user: 'Grace' })
  await expect(b.presenceItems).toHaveCount(2)
  await a.page.context().setOffline(true)
  await expect(a.connection).toHaveText('Offline')
  await a.page.context().setOffline(false)
  await a.waitSynced()
  await a.typeAtEnd('x')
  await expect(b.presenceItems.filter({ hasText: 'Ada' })).toHaveCount(1)
  await expect(a.presenceItems).toHaveCount(2)
})
