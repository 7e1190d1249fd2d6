import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '@collab/test-support'
import { type BrowserContext, chromium, type Page } from '@playwright/test'
import { chromiumArgs, findChromium } from '../../scripts/chromium.mjs'

/**
 * A browser profile on disk (its IndexedDB, its service workers, its HTTP cache), which survives the browser: a
 * test starts Chromium on it, kills it, and starts it again, as a user whose browser crashed.
 */
export class BrowserProfile {
  readonly dir = mkdtempSync(join(tmpdir(), 'collab-profile-'))
  context: BrowserContext | null = null

  constructor(private readonly baseURL: string) {}

  /** Starts Chromium on the profile; the page it opened with is returned. */
  async launch(): Promise<Page> {
    const executablePath = process.env.CHROMIUM_PATH || findChromium()
    this.context = await chromium.launchPersistentContext(this.dir, {
      ...(executablePath && { executablePath }),
      args: [...chromiumArgs],
      baseURL: this.baseURL,
      serviceWorkers: 'allow',
    })
    return this.context.pages()[0] ?? (await this.context.newPage())
  }

  /**
   * Kills the browser's main process with SIGKILL: no unload handler runs, nothing is flushed, as in a crash or a
   * power cut of the browser alone. Only what IndexedDB had committed is left on disk.
   */
  async kill(): Promise<void> {
    const pids = browserPids(this.dir)
    if (pids.length === 0) throw new Error(`no Chromium process runs on the profile ${this.dir}`)
    for (const pid of pids) process.kill(pid, 'SIGKILL')
    await waitFor('the browser to be gone', () => browserPids(this.dir).length === 0, 15_000, 50)
    // Playwright notices the dead connection on its own; closing the context object releases its side.
    await this.context?.close().catch((err: unknown) => {
      if (!String(err).match(/closed|disconnected|Target/i)) throw err
    })
    this.context = null
  }

  async close(): Promise<void> {
    await this.context?.close()
    this.context = null
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/**
 * The main processes of Chromium running on `profileDir`: their command line names the profile, and they have no
 * `--type=` (renderers, the GPU process and utilities do, and die with their browser).
 */
function browserPids(profileDir: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let args: string[]
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
    } catch {
      // The process ended while we looked.
      continue
    }
    if (!args.some((arg) => arg === `--user-data-dir=${profileDir}`)) continue
    if (args.some((arg) => arg.startsWith('--type='))) continue
    if (isZombie(entry)) continue
    pids.push(Number(entry))
  }
  return pids
}

function isZombie(pid: string): boolean {
  try {
    return /\)\s+Z\s/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}

/** The document's text as the server stores it, read through its HTTP API with a development token. */
export async function serverText(serverUrl: string, name: string): Promise<string | null> {
  const { token } = (await (await fetch(`${serverUrl}/api/dev-token`)).json()) as { token: string }
  const response = await fetch(`${serverUrl}/api/docs/${encodeURIComponent(name)}`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/plain' },
  })
  if (response.status === 404) return null
  if (!response.ok) throw new Error(`GET /api/docs/${name} answered ${response.status}`)
  return response.text()
}

/** Deletes the document on the server through its HTTP API ([DL1]). */
export async function deleteOnServer(serverUrl: string, name: string): Promise<void> {
  const { token } = (await (await fetch(`${serverUrl}/api/dev-token`)).json()) as { token: string }
  const response = await fetch(`${serverUrl}/api/docs/${encodeURIComponent(name)}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${token}` },
  })
  if (!response.ok) throw new Error(`DELETE /api/docs/${name} answered ${response.status}`)
}

/** The size of the document's encoded state (Yjs `encodeStateAsUpdate`) on the server. */
export async function serverStateBytes(serverUrl: string, name: string): Promise<number> {
  const { token } = (await (await fetch(`${serverUrl}/api/dev-token`)).json()) as { token: string }
  const response = await fetch(`${serverUrl}/api/docs/${encodeURIComponent(name)}`, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/octet-stream' },
  })
  if (!response.ok) throw new Error(`GET /api/docs/${name} answered ${response.status}`)
  return (await response.arrayBuffer()).byteLength
}

/** Bytes the page's local store holds for `name`, read from IndexedDB in the page. */
export function localStoreBytes(page: Page, name: string): Promise<number> {
  return page.evaluate(
    (doc) =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open('collab-local')
        open.onerror = () => reject(open.error)
        open.onsuccess = () => {
          const db = open.result
          const request = db.transaction('records').objectStore('records').index('doc').getAll(doc)
          request.onerror = () => reject(request.error)
          request.onsuccess = () => {
            db.close()
            resolve((request.result as Array<{ update: Uint8Array }>).reduce((n, r) => n + r.update.byteLength, 0))
          }
        }
      }),
    name,
  )
}

/** Waits until the service worker controls `page`, so the next load of the app can be served without a network. */
export async function waitForOfflineShell(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready
    if (navigator.serviceWorker.controller) return
    await new Promise<void>((resolve) =>
      navigator.serviceWorker.addEventListener('controllerchange', () => resolve(), { once: true }),
    )
  })
}
