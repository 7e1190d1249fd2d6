import { expect, test } from '../support/fixtures.js'

test('a read-only token shows the document, keeps the editor read-only, and changes nothing', async ({
  openDoc,
  newContext,
}) => {
  const writer = await openDoc('access-read', { user: 'Writer' })
  await writer.typeAtEnd('written by the writer')
  await writer.expectSaved()

  const context = await newContext()
  // The web app asks /api/dev-token for a token; ask for a read-only one instead.
  await context.route('**/api/dev-token', (route) =>
    route.continue({ url: `${new URL(route.request().url()).origin}/api/dev-token?doc=access-read&access=read` }),
  )
  const reader = await openDoc('access-read', { context, user: 'Reader' })
  await reader.expectText('written by the writer')
  await expect(reader.save).toHaveText('Read only')
  await expect(reader.editor).toHaveAttribute('contenteditable', 'false')
  await reader.editor.click()
  await reader.page.keyboard.type('should not land')
  await writer.typeAtEnd('!')
  await reader.expectText('written by the writer!')
  await writer.expectText('written by the writer!')
})

test('a forged token is refused with a clear message and no retry loop', async ({ openDoc, newContext }) => {
  const context = await newContext()
  await context.route('**/api/dev-token', (route) =>
    route.fulfill({
      json: {
        token: 'eyJhbGciOiJIUzI1NiJ9.eyJkb2NzIjp7IioiOiJ3cml0ZSJ9fQ.bm90LWEtcmVhbC1zaWduYXR1cmU',
        expiresAt: Date.now() + 3_600_000,
      },
    }),
  )
  const page = await context.newPage()
  let sockets = 0
  page.on('websocket', () => sockets++)
  await page.goto('/d/forged')
  await expect(page.getByTestId('status-error')).toContainText('Access denied')
  await expect(page.getByTestId('connection-status')).toHaveText('Offline')
  await expect(page.locator('.cm-content')).toHaveAttribute('contenteditable', 'false')
  await page.waitForTimeout(1_500)
  // One attempt, plus the single retry with a freshly fetched token that a 4401 earns.
  expect(sockets).toBeLessThanOrEqual(2)
  expect(openDoc).toBeDefined()
})
