import { expect, test } from '../support/fixtures.js'

test('two tabs co-edit and converge', async ({ openDoc }) => {
  const a = await openDoc('co-edit', { user: 'Ada' })
  const b = await openDoc('co-edit', { user: 'Grace' })
  await a.typeAtEnd('Hello from A. ')
  await b.expectText('Hello from A. ')
  await b.typeAtEnd('And hello from B.')
  await a.expectText('Hello from A. And hello from B.')
  await expect(a.page.locator('.cm-content')).toContainText('And hello from B.')
  await a.expectSaved()
  await b.expectSaved()
})

test('three tabs typing at once converge to the same text', async ({ openDoc }) => {
  const tabs = [
    await openDoc('three', { user: 'A' }),
    await openDoc('three', { user: 'B' }),
    await openDoc('three', { user: 'C' }),
  ]
  const words = ['alpha ', 'bravo ', 'charlie ']
  await Promise.all(tabs.map((tab, i) => tab.typeAtEnd(words[i]!.repeat(5), 15)))
  const expectedLength = words.reduce((sum, w) => sum + w.length * 5, 0)
  await expect.poll(async () => (await tabs[0]!.text()).length).toBe(expectedLength)
  await expect.poll(async () => new Set(await Promise.all(tabs.map((tab) => tab.text()))).size).toBe(1)
  // Every keystroke of every tab is there exactly once. (Words may interleave: when a remote insert lands at a
  // tab's cursor, CodeMirror may place the cursor after it, so that tab's next letter follows the other's.)
  const sorted = (text: string) => [...text].sort().join('')
  expect(sorted(await tabs[0]!.text())).toBe(sorted(words.map((w) => w.repeat(5)).join('')))
})

test('reload keeps the content', async ({ openDoc }) => {
  const a = await openDoc('reload')
  await a.typeAtEnd('kept across reloads')
  await a.expectSaved()
  await a.page.reload()
  await a.waitSynced()
  await a.expectText('kept across reloads')
  await expect(a.editor).toHaveText('kept across reloads')
})

test('the caret stops blinking while the system asks for reduced motion, and blinks again after', async ({
  openDoc,
}) => {
  const a = await openDoc('steady-caret')
  await a.typeAtEnd('x')
  const layer = a.page.locator('[data-testid=editor] .cm-cursorLayer')
  // CodeMirror names the animation inline and swaps cm-blink and cm-blink2 on every selection change.
  await expect(layer).toHaveCSS('animation-name', /^cm-blink2?$/)
  await a.page.emulateMedia({ reducedMotion: 'reduce' })
  await expect(layer).toHaveCSS('animation-name', 'none')
  await a.typeAtEnd('y')
  await expect(layer).toHaveCSS('animation-name', 'none')
  await expect(layer).toHaveCSS('opacity', '1')
  await expect(layer.locator('.cm-cursor-primary')).toBeVisible()
  await a.page.emulateMedia({ reducedMotion: 'no-preference' })
  await expect(layer).toHaveCSS('animation-name', /^cm-blink2?$/)
})
