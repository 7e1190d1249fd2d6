import { expect, test } from '../support/fixtures.js'

test('the embedding example page (packages/editor/example) edits the same document as the app', async ({
  newContext,
  openDoc,
}) => {
  const context = await newContext()
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))
  await page.goto('/embed-example.html?doc=embedded')
  const editor = page.locator('.cm-content')
  await expect(editor).toBeVisible()
  await expect(page.locator('#status')).toContainText('synced')
  await editor.click()
  await page.keyboard.type('typed in the embedded editor')
  const app = await openDoc('embedded')
  await app.expectText('typed in the embedded editor')
  await app.typeAtEnd(' and in the app')
  // The remote caret's name label sits inside the line, so the visible text also holds it.
  await expect(editor).toContainText('typed in the embedded editor and in the app')
  await expect(page.locator('#status')).toContainText('saved')
  expect(errors).toEqual([])
})
