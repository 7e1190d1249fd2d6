import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { freePort, type ServerProcess, startServerProcess } from '@collab/test-support'
import type { Page } from '@playwright/test'
import { expect, test } from '../support/fixtures.js'

// The vanilla example (examples/vanilla) as an outside app runs it: built from the packed tarballs with its own
// pinned Yjs (scripts/build-examples.mjs), served with its own backend (server.mjs) on another origin than the
// collab server, which authenticates (--auth-secret) and allows exactly that origin (--allowed-origins).

const example = fileURLToPath(new URL('../../examples/vanilla/', import.meta.url))
const secret = 'examples-e2e-secret-0123456789-abcdefghij'

interface HostApp {
  /** The page's origin, the one on the server's allowlist. */
  url: string
  port: number
  child: ChildProcess
}

/** Starts the example's backend and resolves once it listens; it serves dist/ and signs tokens. */
async function startHostApp(collabUrl: string, port: number): Promise<HostApp> {
  const child = spawn(process.execPath, [join(example, 'server.mjs')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', COLLAB_URL: collabUrl, COLLAB_AUTH_SECRET: secret },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the example's server.mjs exited with ${code}`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('listening on')) resolve()
    })
  })
  return { url: `http://localhost:${port}`, port, child }
}

let server: ServerProcess
let host: HostApp
let dataDir: string

test.beforeAll(async () => {
  if (!existsSync(join(example, 'dist', 'index.html'))) {
    throw new Error('examples/vanilla is not built: run `node scripts/build-examples.mjs` after the build')
  }
  dataDir = mkdtempSync(join(tmpdir(), 'collab-e2e-examples-'))
  const hostPort = await freePort()
  server = await startServerProcess({
    dataDir,
    args: ['--auth-secret', secret, '--allowed-origins', `http://localhost:${hostPort}`],
  })
  host = await startHostApp(server.wsUrl, hostPort)
})

test.afterAll(async () => {
  host?.child.kill()
  await server?.stop()
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
})

/** Opens the example on `origin` and collects what the page reports as errors. */
async function openExample(page: Page, origin: string, doc: string, errors: string[]): Promise<void> {
  page.on('pageerror', (err) => errors.push(err.message))
  page.on('console', (message) => {
    if (message.type() === 'error' || /already imported/.test(message.text())) errors.push(message.text())
  })
  await page.goto(`${origin}/?doc=${doc}`)
}

test('two tabs of the example on another origin co-edit through the server, with one Yjs', async ({ browser }) => {
  const context = await browser.newContext()
  const errors: string[] = []
  const [first, second] = [await context.newPage(), await context.newPage()]
  await openExample(first, host.url, 'embedded', errors)
  await openExample(second, host.url, 'embedded', errors)
  for (const page of [first, second]) await expect(page.locator('#status')).toContainText('synced')
  // The editor uses the app's own yjs 13.6.20, not a copy of its own.
  expect(
    await first.evaluate(() => (window as { collabExample?: { sharesYjs: boolean } }).collabExample?.sharesYjs),
  ).toBe(true)

  await first.locator('.cm-content').click()
  await first.keyboard.type('typed in the first tab')
  await expect(second.locator('.cm-content')).toContainText('typed in the first tab')
  await second.locator('.cm-content').click()
  await second.keyboard.press('End')
  await second.keyboard.type(', and in the second')
  await expect(first.locator('.cm-content')).toContainText('typed in the first tab, and in the second')
  for (const page of [first, second]) await expect(page.locator('#status')).toContainText('saved')
  // The page may also read the collab server's HTTP API (CORS, with a preflight for the Authorization header).
  const text = await first.evaluate(async (api) => {
    const { token } = (await (await fetch('/api/collab-token?doc=embedded')).json()) as { token: string }
    const response = await fetch(`${api}/api/docs/embedded`, { headers: { authorization: `Bearer ${token}` } })
    return response.text()
  }, server.url)
  expect(text).toBe('typed in the first tab, and in the second')
  expect(errors).toEqual([])
  await context.close()
})

test('a page on an origin the server does not allow shows the refusal, 4403, instead of connecting', async ({
  browser,
}) => {
  const context = await browser.newContext()
  const page = await context.newPage()
  const errors: string[] = []
  // The same app by its IP address: another origin, not on the allowlist.
  await openExample(page, `http://127.0.0.1:${host.port}`, 'embedded', errors)
  await expect(page.locator('#status')).toContainText('error 4403')
  // What the browser itself sees: the socket opened, then closed with a code the page can read.
  const code = await page.evaluate(
    (url) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`${url}/embedded`)
        ws.onclose = (event) => resolve(event.code)
      }),
    server.wsUrl,
  )
  expect(code).toBe(4403)
  await context.close()
})
