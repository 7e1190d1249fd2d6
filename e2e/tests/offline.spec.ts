import { TcpProxy } from '@collab/test-support'
import type { Page } from '@playwright/test'
import { DocPage } from '../support/doc-page.js'
import { expect, test } from '../support/fixtures.js'
import {
  BrowserProfile,
  deleteOnServer,
  localStoreBytes,
  serverStateBytes,
  serverText,
  waitForOfflineShell,
} from '../support/offline-browser.js'

// Offline first (issue 16): the browser keeps its own copy of each document (IndexedDB), a service worker serves
// the app shell, and the page says honestly where the edits are.

/** A proxy in front of the server that the test can cut, as a lost network; the page's origin is the proxy's. */
async function network(serverPort: number): Promise<{ proxy: TcpProxy; url: string }> {
  const proxy = await new TcpProxy(serverPort).listen()
  return { proxy, url: `http://127.0.0.1:${proxy.port}` }
}

const pageText = (page: Page) => page.evaluate(() => window.collab?.text() ?? null)

test('offline edits survive a killed browser, open offline, and reach the server exactly once', async ({ server }) => {
  test.setTimeout(180_000)
  const { proxy, url } = await network(server.process.port)
  const profile = new BrowserProfile(url)
  try {
    let page = await profile.launch()
    await DocPage.setUser(profile.context!, 'Ada')
    const doc = new DocPage(page)
    await doc.open('crash')
    await waitForOfflineShell(page)
    await doc.typeAtEnd('Typed online. ')
    await doc.expectSaved()

    proxy.blackhole()
    await doc.typeAtEnd('Typed offline.')
    await expect(doc.save).toHaveText('Saved on this device')
    expect(await serverText(server.url, 'crash')).toBe('Typed online. ')
    await profile.kill()

    // Started again, the network still gone: the app shell comes from the service worker, the text from the store.
    page = await profile.launch()
    await page.goto('/d/crash')
    await expect.poll(() => pageText(page), { timeout: 20_000 }).toBe('Typed online. Typed offline.')
    const reopened = new DocPage(page)
    await expect(reopened.save).toHaveText('Saved on this device')
    await expect(reopened.connection).not.toHaveText('Connected')
    await reopened.typeAtEnd(' And after the crash.')
    await expect(reopened.save).toHaveText('Saved on this device')

    proxy.restore()
    await reopened.waitSynced(30_000)
    await reopened.expectSaved(20_000)
    const expected = 'Typed online. Typed offline. And after the crash.'
    expect(await pageText(page)).toBe(expected)
    expect(await serverText(server.url, 'crash')).toBe(expected)
  } finally {
    await profile.close()
    await proxy.close()
  }
})

test('two tabs share their edits while the server is unreachable, and both reach it', async ({
  openDoc,
  newContext,
  server,
}) => {
  const context = await newContext()
  const a = await openDoc('two-tabs', { context, user: 'Ada' })
  const b = await openDoc('two-tabs', { context, user: 'Ada' })
  await a.typeAtEnd('Start. ')
  await b.expectText('Start. ')
  await context.setOffline(true)
  await expect(a.connection).toHaveText('Offline')
  await a.typeAtEnd('From the first tab. ')
  await b.expectText('Start. From the first tab. ')
  await b.typeAtEnd('From the second tab.')
  const expected = 'Start. From the first tab. From the second tab.'
  await a.expectText(expected)
  await expect(a.save).toHaveText('Saved on this device')
  await expect(b.save).toHaveText('Saved on this device')

  await context.setOffline(false)
  // Generous: both tabs' reconnects back off while offline, and this machine is shared.
  await a.waitSynced(30_000)
  await b.waitSynced(30_000)
  await a.expectSaved(20_000)
  await b.expectSaved(20_000)
  expect(await serverText(server.url, 'two-tabs')).toBe(expected)
})

test('closing the tab asks first while an edit is nowhere but in the tab', async ({ newContext }) => {
  const context = await newContext()
  // A browser without IndexedDB (some private modes): the page says edits live only in the tab.
  await context.addInitScript(() => Object.defineProperty(window, 'indexedDB', { value: undefined }))
  await DocPage.setUser(context, 'Ada')
  const page = await context.newPage()
  const doc = new DocPage(page)
  await doc.open('unload')
  await expect(page.getByTestId('local-store-notice')).toContainText('kept only while this tab is open')
  await doc.typeAtEnd('Saved on the server.')
  await doc.expectSaved()

  const dialogs: string[] = []
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.type())
    void dialog.dismiss()
  })
  await context.setOffline(true)
  await expect(doc.connection).toHaveText('Offline')
  await doc.typeAtEnd(' Only in this tab.')
  await expect(doc.save).toHaveText('Unsaved changes')
  await page.close({ runBeforeUnload: true })
  await expect.poll(() => dialogs).toEqual(['beforeunload'])
  // Dismissed: the tab stays, with the edit.
  expect(page.isClosed()).toBe(false)
  await context.setOffline(false)
  await doc.expectSaved()
  await page.close({ runBeforeUnload: true })
  await expect.poll(() => page.isClosed()).toBe(true)
  expect(dialogs).toEqual(['beforeunload'])
})

test('a database closed mid-session is reported, editing goes on, and the store reopens by itself', async ({
  openDoc,
  server,
}) => {
  const doc = await openDoc('closed-db', { user: 'Ada' })
  await doc.typeAtEnd('Before. ')
  await doc.expectSaved()
  await doc.page.evaluate(() => {
    const editor = window.collab?.editor as unknown as { provider: { localStore: { closeDatabase(): void } } }
    editor.provider.localStore.closeDatabase()
  })
  await doc.typeAtEnd('After.')
  await expect(doc.page.getByTestId('local-store-notice')).toContainText('Saving on this device failed')
  await expect(doc.page.getByTestId('local-store-notice')).toBeHidden({ timeout: 15_000 })
  await doc.expectSaved()
  expect(await serverText(server.url, 'closed-db')).toBe('Before. After.')
  // What was typed while the database was closed is in the reopened store: offline, a reload still has it.
  await doc.page.context().setOffline(true)
  await doc.page.reload()
  await expect.poll(() => pageText(doc.page)).toBe('Before. After.')
})

test('100 reloads without edits leave the local store the size it was', async ({ openDoc, server }) => {
  test.setTimeout(240_000)
  const doc = await openDoc('reloads', { user: 'Ada' })
  await doc.typeAtEnd('A paragraph that stays the same through every reload. ')
  await doc.expectSaved()
  await doc.page.reload()
  await doc.waitSynced()
  await doc.expectSaved()
  const before = await localStoreBytes(doc.page, 'reloads')
  expect(before).toBeGreaterThan(0)
  for (let i = 0; i < 100; i++) {
    await doc.page.reload()
    await doc.waitSynced()
    await doc.expectSaved()
  }
  const after = await localStoreBytes(doc.page, 'reloads')
  expect(after).toBeLessThanOrEqual(before * 1.01)
  expect(after).toBeLessThanOrEqual(2 * (await serverStateBytes(server.url, 'reloads')))
})

test('the home page lists the documents kept on this device, and removes one', async ({ openDoc }) => {
  const doc = await openDoc('kept-here', { user: 'Ada' })
  await doc.typeAtEnd('Kept.')
  await doc.expectSaved()
  await doc.page.goto('/')
  const item = doc.page.getByTestId('offline-doc-item').filter({ hasText: 'kept-here' })
  await expect(item).toBeVisible()
  doc.page.once('dialog', (dialog) => void dialog.accept())
  await item.getByTestId('remove-offline-doc').click()
  await expect(item).toHaveCount(0)
})

test('a document deleted on the server while the tab was offline is not brought back; its copy is kept', async ({
  openDoc,
  server,
}) => {
  const doc = await openDoc('deleted-offline', { user: 'Ada' })
  await doc.typeAtEnd('Shared. ')
  await doc.expectSaved()
  await doc.page.context().setOffline(true)
  await expect(doc.connection).toHaveText('Offline')
  await doc.typeAtEnd('Written offline.')
  await expect(doc.save).toHaveText('Saved on this device')
  await deleteOnServer(server.url, 'deleted-offline')

  await doc.page.context().setOffline(false)
  await expect(doc.page.getByTestId('status-error')).toContainText('This document was deleted', { timeout: 30_000 })
  await expect(doc.page.getByTestId('status-error')).toContainText('Recovered copies')
  // The edits are in the recovered copy: reloading, as the banner suggests, asks nothing.
  await expect(doc.save).toHaveText('Saved on this device')
  expect(await serverText(server.url, 'deleted-offline')).toBeNull()

  await doc.page.goto('/')
  const copy = doc.page.getByTestId('recovered-item').filter({ hasText: 'deleted-offline' })
  await expect(copy).toBeVisible()
  const download = doc.page.waitForEvent('download')
  await copy.getByTestId('download-recovered').click()
  const file = await (await download).path()
  const { readFileSync } = await import('node:fs')
  expect(readFileSync(file, 'utf8')).toBe('Shared. Written offline.')

  // Opened again, the name is a new, empty document: the old copy neither comes back nor blocks it.
  await doc.open('deleted-offline')
  await doc.expectText('')
  await doc.typeAtEnd('A new start.')
  await doc.expectSaved()
  expect(await serverText(server.url, 'deleted-offline')).toBe('A new start.')
})
