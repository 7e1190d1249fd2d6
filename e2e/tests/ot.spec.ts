import { expect, test } from '../support/fixtures.js'

// A @codemirror/collab tab (`/d/<name>?sync=ot`) and a Yjs tab on the same document ([OT1]-[OT8]).

test('an OT tab and a Yjs tab co-edit, see each other, converge and are saved', async ({ openDoc }) => {
  const ot = await openDoc('mixed', { user: 'Olive', color: '#c2410c', sync: 'ot' })
  const yjs = await openDoc('mixed', { user: 'Yann', color: '#1d4ed8' })
  expect(await ot.page.evaluate(() => window.collab?.sync)).toBe('ot')

  await ot.typeAtEnd('From OT. ')
  await yjs.expectText('From OT. ')
  await yjs.typeAtEnd('From Yjs.')
  await ot.expectText('From OT. From Yjs.')
  await ot.expectSaved()
  await yjs.expectSaved()

  // Named cursors both ways: the label carries the other person's name.
  await expect(yjs.page.locator('.cm-ySelectionInfo', { hasText: 'Olive' })).toHaveCount(1, { timeout: 10_000 })
  await expect(ot.page.locator('.cm-ySelectionInfo', { hasText: 'Yann' })).toHaveCount(1, { timeout: 10_000 })
  // And the online list shows both people in both tabs.
  await expect(ot.presenceCount).toContainText('2')
  await expect(yjs.presenceCount).toContainText('2')

  // Typing at once: every keystroke of both arrives exactly once, in both.
  await Promise.all([ot.typeAtEnd(' otototot', 20), yjs.typeAtEnd(' yjsyjsyjs', 20)])
  await expect
    .poll(async () => (await ot.text()) === (await yjs.text()) && (await ot.text()).length, {
      timeout: 10_000,
    })
    .toBe('From OT. From Yjs.'.length + ' otototot'.length + ' yjsyjsyjs'.length)
  const sorted = (text: string) => [...text].sort().join('')
  expect(sorted(await ot.text())).toBe(sorted('From OT. From Yjs. otototot yjsyjsyjs'))
})

test('the text survives a server restart for both kinds of tab', async ({ openDoc, server }) => {
  const ot = await openDoc('mixed-restart', { user: 'Olive', sync: 'ot' })
  const yjs = await openDoc('mixed-restart', { user: 'Yann' })
  await ot.typeAtEnd('before. ')
  await yjs.expectText('before. ')
  await ot.expectSaved()

  await server.restart('SIGTERM', 300)
  await ot.waitSynced()
  await yjs.waitSynced()
  await ot.typeAtEnd('after from OT. ')
  await yjs.typeAtEnd('after from Yjs.')
  await expect
    .poll(async () => (await ot.text()) === (await yjs.text()) && (await ot.text()), { timeout: 15_000 })
    .toContain('before. ')
  const text = await ot.text()
  expect(text).toContain('after from OT. ')
  expect(text).toContain('after from Yjs.')
  await ot.expectSaved()

  // A fresh OT tab after the restart reads the same text from the stored document.
  const late = await openDoc('mixed-restart', { sync: 'ot' })
  await late.expectText(text)
})
