import type { Page } from '@playwright/test'
import type { Fixtures } from '../support/fixtures.js'
import { keystrokeDelays, percentile, recordLengths } from '../support/keystroke-latency.js'
import { expect, type HttpProxy, test } from '../support/websocket-blocking-proxy.js'

const transportOf = (page: Page) => page.evaluate(() => window.collab?.editor.status.transport)

/** Types `count` characters at the end of `from` and returns the delivery delays to `to`, sorted. */
async function measureDelivery(
  from: { page: Page; typeAtEnd(text: string, delay?: number): Promise<void> },
  to: { page: Page; expectText(text: string, timeout?: number): Promise<void>; text(): Promise<string> },
  count: number,
  letter: string,
): Promise<number[]> {
  await recordLengths(from.page)
  await recordLengths(to.page)
  const before = await to.text()
  const typed = letter.repeat(count)
  await from.typeAtEnd(typed, 25)
  await to.expectText(before + typed)
  const { delays } = await keystrokeDelays(from.page, to.page)
  expect(delays).toHaveLength(count)
  return delays
}

const summary = (delays: number[]) =>
  `p50 ${percentile(delays, 50).toFixed(1)} ms, p95 ${percentile(delays, 95).toFixed(1)} ms, max ${percentile(delays, 100).toFixed(1)} ms`

/** The document open in a tab on WebSocket, and in a tab behind the proxy, which is on HTTP. */
async function openBothSides(
  openDoc: Fixtures['openDoc'],
  newContext: Fixtures['newContext'],
  proxy: HttpProxy,
  name: string,
) {
  const direct = await openDoc(name, { user: 'Wes Socket' })
  const proxied = await openDoc(name, { user: 'Polly Http', context: await newContext({ baseURL: proxy.url }) })
  expect(await transportOf(proxied.page)).toBe('http')
  expect(await transportOf(direct.page)).toBe('websocket')
  expect(proxy.upgradesSeen).toBeGreaterThan(0)
  return { direct, proxied }
}

// [HT1]-[HT10] in docs/PROTOCOL.md: a tab behind a proxy that refuses WebSocket upgrades and buffers every response
// works over HTTP long-polling, with a tab on WebSocket.
test('a tab behind a proxy that blocks WebSocket co-edits over HTTP: text, cursors, "Saved", delivery time', async ({
  openDoc,
  newContext,
  blockingProxy,
}) => {
  test.setTimeout(120_000)
  const { direct, proxied } = await openBothSides(openDoc, newContext, blockingProxy, 'http-transport')
  // The page is the same; only the badge says which transport carries it.
  await expect(proxied.connection).toHaveText('Connected (HTTP)')
  await expect(direct.connection).toHaveText('Connected')

  // Both directions, with real key presses.
  await proxied.typeAtEnd('Typed behind the proxy. ')
  await direct.expectText('Typed behind the proxy. ')
  await direct.typeAtEnd('Typed on WebSocket. ')
  await proxied.expectText('Typed behind the proxy. Typed on WebSocket. ')
  await proxied.expectSaved()

  // Cursors both ways, with the names, and the online list.
  await expect(proxied.page.locator('.cm-ySelectionInfo')).toHaveText('Wes Socket')
  await expect(direct.page.locator('.cm-ySelectionInfo')).toHaveText('Polly Http')
  await expect(direct.presenceItems).toHaveCount(2)
  await expect(proxied.presenceItems).toHaveCount(2)
  // A selection made behind the proxy is drawn in the other tab.
  await proxied.page.keyboard.press('Shift+Home')
  await expect(direct.page.locator('.cm-ySelection')).not.toHaveCount(0)
  await proxied.page.keyboard.press('End')

  // Keystroke delivery, both ways. To the tab on HTTP: p95 within 250 ms, DESIGN.md's target for a client on the
  // HTTP transport (issue 18); measured p95 70-115 ms here. From it: a tab on HTTP sends one request at a time
  // ([HT4]), each answered once stored ([HT5]), so what it types meanwhile waits for the next request: p95 130-180 ms
  // with the machine otherwise idle, 300-365 ms in runs of the whole suite. There the two headless tabs saturate both
  // cores while typing (software compositing alone takes about one core: 3.3-3.7 s of the GPU process's CPU for 100
  // keystrokes), and the page's script gets an answer 20-80 ms after Chromium's resource timing has it complete.
  // The bound of 500 ms still fails a sender that waits for the poll's answer (up to 20 s) or for a timer.
  const toHttp = await measureDelivery(direct, proxied, 120, 'w')
  const fromHttp = await measureDelivery(proxied, direct, 120, 'h')
  console.log(`keystroke delivery to the HTTP tab: ${summary(toHttp)}; from it: ${summary(fromHttp)}`)
  test
    .info()
    .annotations.push(
      { type: 'keystroke delivery to HTTP', description: summary(toHttp) },
      { type: 'keystroke delivery from HTTP', description: summary(fromHttp) },
    )
  expect(percentile(toHttp, 95)).toBeLessThanOrEqual(250)
  expect(percentile(fromHttp, 95)).toBeLessThanOrEqual(500)
  await proxied.expectSaved()
  expect(await transportOf(proxied.page)).toBe('http')
})

test('a tab on HTTP moves back to WebSocket when the proxy lets it through', async ({
  openDoc,
  newContext,
  blockingProxy,
}) => {
  test.setTimeout(120_000)
  const { direct, proxied } = await openBothSides(openDoc, newContext, blockingProxy, 'http-transport-back')
  await proxied.typeAtEnd('On HTTP. ')
  await direct.expectText('On HTTP. ')
  await proxied.expectSaved()
  await expect(direct.page.locator('.cm-ySelectionInfo')).toHaveText('Polly Http')

  // The tab retries WebSocket every 3 to 30 s, and moves to the first one the server answers.
  blockingProxy.upgrades = 'allow'
  await expect.poll(() => transportOf(proxied.page), { timeout: 45_000 }).toBe('websocket')
  await expect(proxied.connection).toHaveText('Connected')
  await proxied.waitSynced()
  await proxied.typeAtEnd('Back on WebSocket.')
  await direct.expectText('On HTTP. Back on WebSocket.')
  await direct.typeAtEnd(' Welcome back.')
  await proxied.expectText('On HTTP. Back on WebSocket. Welcome back.')
  await proxied.expectSaved()
  // One person each, with a cursor each: the move left no second presence behind, and the cursor follows.
  await expect(direct.presenceItems).toHaveCount(2)
  await expect(direct.page.locator('.cm-ySelectionInfo')).toHaveText('Polly Http')
  await proxied.page.keyboard.press('Shift+Home')
  await expect(direct.page.locator('.cm-ySelection')).not.toHaveCount(0)
})
