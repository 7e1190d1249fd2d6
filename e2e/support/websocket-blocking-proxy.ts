import { HttpProxy } from '@collab/test-support'
import { test as base } from './fixtures.js'

export type { HttpProxy } from '@collab/test-support'

/**
 * The e2e fixtures plus `blockingProxy`: a proxy in front of this test's server like those of networks where
 * WebSocket does not work. It refuses WebSocket upgrades (until the test sets `upgrades = 'allow'`) and buffers
 * every response until it is complete. Open a page through it with `newContext({ baseURL: blockingProxy.url })`:
 * the web app then talks to the server through the proxy only, as it connects to the origin that served it.
 */
export const test = base.extend<{ blockingProxy: HttpProxy }>({
  blockingProxy: async ({ server }, use) => {
    const proxy = await new HttpProxy(Number(new URL(server.url).port), { upgrades: 'refuse' }).listen()
    await use(proxy)
    await proxy.close()
  },
})

export { expect } from '@playwright/test'
