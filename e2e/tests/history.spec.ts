import type { Page } from '@playwright/test'
import type { DocPage } from '../support/doc-page.js'
import { expect, test } from '../support/fixtures.js'

// The version history panel of the web app (issue 17) against the real server's version API ([VH1]-[VH3]).

// Two tabs, several round trips and the open panel's periodic look at the list: more than the default minute when
// the machine is busy.
test.describe.configure({ timeout: 180_000 })

/** The history panel of a document page, as these tests drive it. */
function historyOf(doc: DocPage) {
  const page: Page = doc.page
  const item = (name: string) => page.getByTestId('history-item').filter({ hasText: name })
  return {
    panel: page.getByTestId('history-panel'),
    preview: page.getByTestId('history-preview'),
    previewText: page.getByTestId('history-preview-text'),
    message: page.getByTestId('history-message'),
    item,
    async open() {
      await page.getByTestId('history-toggle').click()
      await expect(page.getByTestId('history-panel')).toBeVisible()
    },
    async nameCurrent(name: string) {
      await page.getByTestId('history-name-current').click()
      await page.getByTestId('history-name-input').fill(name)
      await page.getByTestId('history-name-save').click()
      await expect(item(name)).toBeVisible()
    },
    async select(name: string) {
      await item(name).click()
      await expect(page.getByTestId('history-preview-title')).toHaveText(name)
    },
  }
}

test('two tabs: a version named in one is previewed and restored in the other, seen live in both, and undone', async ({
  openDoc,
}) => {
  const a = await openDoc('history-tabs', { user: 'Ada' })
  const b = await openDoc('history-tabs', { user: 'Grace' })
  const ha = historyOf(a)
  const hb = historyOf(b)

  await a.typeAtEnd('Plan: ship in March.')
  await a.expectSaved()
  await ha.open()
  await ha.nameCurrent('Draft 1')
  await expect(ha.message).toContainText('Named the current version “Draft 1”')

  await a.typeAtEnd(' Then April.')
  await a.expectSaved()
  await b.expectText('Plan: ship in March. Then April.')

  // The other tab lists the version and compares it with the current text: what was added since is highlighted.
  await hb.open()
  await hb.select('Draft 1')
  await expect(hb.previewText).toHaveText('Plan: ship in March. Then April.')
  await expect(hb.previewText.locator('ins')).toHaveText([' Then April.'])
  await expect(hb.previewText.locator('del')).toHaveCount(0)
  await expect(b.page.getByTestId('history-change-count')).toHaveText('1 change')

  await b.page.getByTestId('history-restore').click()
  await expect(hb.message).toContainText('Restored “Draft 1”')
  await expect(hb.preview).toBeHidden()
  await b.expectText('Plan: ship in March.')
  // Seen live in the first tab, in the editor itself (which also holds the other tab's cursor label).
  await a.expectText('Plan: ship in March.')
  await expect(a.editor).toContainText('Plan: ship in March.')
  await expect(a.editor).not.toContainText('Then April')

  // The state before the restore is a version; the first tab's open panel finds it without a reload.
  const before = 'Before restoring "Draft 1"'
  await expect(hb.item(before)).toBeVisible()
  await expect(ha.item(before)).toBeVisible({ timeout: 30_000 })

  // Undo: restoring that version brings the text back, in both tabs.
  await ha.select(before)
  await expect(ha.previewText.locator('del')).toHaveText([' Then April.'])
  await a.page.getByTestId('history-restore').click()
  await a.expectText('Plan: ship in March. Then April.')
  await b.expectText('Plan: ship in March. Then April.')
  await expect(b.editor).toContainText('Plan: ship in March. Then April.')
})

test('a named version can be renamed and deleted, and the other tab sees it', async ({ openDoc }) => {
  const a = await openDoc('history-rename', { user: 'Ada' })
  const ha = historyOf(a)
  await a.typeAtEnd('Some text worth keeping.')
  await a.expectSaved()
  await ha.open()
  await ha.nameCurrent('Draft')

  await ha.select('Draft')
  await a.page.getByTestId('history-rename').click()
  await a.page.getByTestId('history-name-input').fill('Final draft')
  await a.page.getByTestId('history-name-save').click()
  await expect(ha.item('Final draft')).toBeVisible()
  await expect(a.page.getByTestId('history-preview-title')).toHaveText('Final draft')

  const b = await openDoc('history-rename', { user: 'Grace' })
  const hb = historyOf(b)
  await hb.open()
  await expect(hb.item('Final draft')).toBeVisible()

  await a.page.getByTestId('history-delete').click()
  await a.page.getByTestId('history-delete-confirm').click()
  await expect(ha.message).toContainText('Deleted “Final draft”')
  await expect(ha.item('Final draft')).toHaveCount(0)
  await expect(ha.preview).toBeHidden()
  // The other tab's panel drops it at its next look at the list (at the latest every 15 s).
  await expect(hb.item('Final draft')).toHaveCount(0, { timeout: 30_000 })
  // The text itself is untouched.
  await a.expectText('Some text worth keeping.')
})

test('show authors colours the current text by who wrote it, and follows live edits', async ({ openDoc }) => {
  const a = await openDoc('history-authors', { user: 'Ada' })
  const b = await openDoc('history-authors', { user: 'Grace' })
  const ha = historyOf(a)
  await a.typeAtEnd('Written before the version.')
  await a.expectSaved()
  await ha.open()
  await ha.nameCurrent('Start')

  await a.page.getByTestId('history-authors-toggle').click()
  const text = a.page.getByTestId('history-authors-text')
  await expect(text).toHaveText('Written before the version.')
  // Development tokens all carry the subject "dev": one author, who wrote everything.
  await expect(a.page.getByTestId('history-author')).toHaveCount(1)
  await expect(a.page.getByTestId('history-author')).toHaveAttribute('data-user', 'dev')
  await expect(a.page.getByTestId('history-author')).toContainText('100%')
  await expect(text.locator('.authored[data-user="dev"]')).toHaveText(['Written before the version.'])
  const colour = await text
    .locator('.authored')
    .first()
    .evaluate((span) => (span as HTMLElement).style.getPropertyValue('--author'))
  expect(colour).toMatch(/^#[0-9a-f]{6}$/)

  // Text typed in another tab after the version appears in the view, marked as not attributed yet.
  await b.typeAtEnd(' Typed since.')
  await b.expectSaved()
  await expect(text).toHaveText('Written before the version. Typed since.')
  await expect(text.locator('.authored.is-recent')).toHaveText([' Typed since.'])
  await expect(a.page.getByTestId('history-authors')).toContainText('13 characters written since that version')
})

test('a read-only token lists and previews versions, and is offered no restore or naming', async ({
  openDoc,
  newContext,
}) => {
  const writer = await openDoc('history-read', { user: 'Writer' })
  await writer.typeAtEnd('Only the writer changes this.')
  await writer.expectSaved()
  await historyOf(writer).open()
  await historyOf(writer).nameCurrent('Reviewed')

  const context = await newContext()
  await context.route('**/api/dev-token', (route) =>
    route.continue({ url: `${new URL(route.request().url()).origin}/api/dev-token?doc=history-read&access=read` }),
  )
  const reader = await openDoc('history-read', { context, user: 'Reader' })
  const hr = historyOf(reader)
  await expect(reader.save).toHaveText('Read only')
  await hr.open()
  await expect(reader.page.getByTestId('history-name-current')).toBeHidden()
  await hr.select('Reviewed')
  await expect(hr.previewText).toHaveText('Only the writer changes this.')
  await expect(reader.page.getByTestId('history-restore')).toBeHidden()
  await expect(reader.page.getByTestId('history-rename')).toBeHidden()
  await expect(reader.page.getByTestId('history-delete')).toBeHidden()
})
