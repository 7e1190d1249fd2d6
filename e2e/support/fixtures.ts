import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ServerProcess, startServerProcess } from '@collab/test-support'
import { type BrowserContext, test as base } from '@playwright/test'
import { DocPage } from './doc-page.js'

/** The server under test, started per test on a fresh data directory. */
export interface ServerHandle {
  url: string
  dataDir: string
  process: ServerProcess
  /** Stops the server (SIGTERM, or SIGKILL) and starts it again on the same port and data directory. */
  restart(signal?: NodeJS.Signals, downMs?: number): Promise<void>
}

export interface Fixtures {
  /** Flags added to the server's command line (`test.use({ serverArgs: ['--trust-proxy'] })`). */
  serverArgs: string[]
  server: ServerHandle
  /** Opens `/d/<name>` in a new tab of `context` (a fresh context by default) as the given user. */
  openDoc(
    name: string,
    options?: { context?: BrowserContext; user?: string; sync?: 'yjs' | 'ot'; color?: string },
  ): Promise<DocPage>
  /** A new, isolated browser context (its own storage, like another person's browser); the server by default. */
  newContext(options?: { baseURL?: string }): Promise<BrowserContext>
}

export const test = base.extend<Fixtures>({
  serverArgs: [[], { option: true }],
  server: async ({ serverArgs }, use) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'collab-e2e-'))
    // Authentication on, with development tokens, as the web app is used against a real deployment ([AU6]).
    const args = ['--dev-tokens', ...serverArgs]
    let current = await startServerProcess({ dataDir, args })
    const handle: ServerHandle = {
      url: current.url,
      dataDir,
      process: current,
      async restart(signal = 'SIGTERM', downMs = 0) {
        await current.stop(signal)
        if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs))
        current = await startServerProcess({ dataDir, port: current.port, args })
        handle.process = current
      },
    }
    await use(handle)
    await current.stop()
    rmSync(dataDir, { recursive: true, force: true })
  },
  newContext: async ({ browser, server }, use) => {
    const contexts: BrowserContext[] = []
    await use(async (options = {}) => {
      const context = await browser.newContext({ baseURL: options.baseURL ?? server.url })
      contexts.push(context)
      return context
    })
    for (const context of contexts) await context.close()
  },
  openDoc: async ({ newContext }, use) => {
    await use(async (name, options = {}) => {
      const context = options.context ?? (await newContext())
      if (options.user) await DocPage.setUser(context, options.user, options.color)
      const page = await context.newPage()
      const doc = new DocPage(page)
      await doc.open(name, options.sync)
      return doc
    })
  },
})

export { expect } from '@playwright/test'
