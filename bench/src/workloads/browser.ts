import { createReadStream, existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { chromiumArgs, clockOffset, findChromium } from '../../../scripts/chromium.mjs'
import type { BenchContext } from '../context.js'
import { singleInstance } from '../deployment.js'
import { benchCpuSeconds, startCpuWindow, treeCpuSeconds } from '../proc-stats.js'
import { percentile, sleep } from '../stats.js'
import type { SystemSpec } from '../systems.js'

/**
 * Workload 16 (issue 19): keystroke to another tab in a real Chromium. One tab types with real key events, another
 * tab of another browser context (another renderer process, as another person's browser) timestamps every change;
 * ours is our web app against our server, the peers are CodeMirror 6 with y-codemirror.next over their own stock
 * client (`bench/browser/`), as their documentation sets it up.
 */

/** Keystroke delivery between two tabs for one system. */
export interface BrowserResult {
  keystrokes: number
  p50Ms: number
  p95Ms: number
  maxMs: number
  /** How far the two renderers' clocks disagreed, and the uncertainty of the correction applied (ms). */
  clockOffsetMs: number
  clockUncertaintyMs: number
  /** Server CPU while typing, in cores. */
  serverCpu: number
}

const here = dirname(fileURLToPath(import.meta.url))
/** The peers' page: `bench/browser/` (from `bench/dist/workloads/` and `bench/src/workloads/` alike). */
const stockPageSource = join(here, '../../browser')

/** Chromium and the peers' page, shared by every measurement of the workload. */
export interface BrowserSession {
  browser: Browser
  /** Base URL of the peers' page (`index.html`), served from this process. */
  stockPageUrl: string
  /**
   * CPU seconds Chromium's processes used so far: the load generator's work, which the run's "other processes" figure
   * must not count as a disturbance. Once closed, what is left after its processes were reaped into this one's.
   */
  cpuSeconds(): number
  close(): Promise<void>
}

/**
 * Builds the peers' page with Vite, serves it on a free port and launches Chromium (headless, with the flags the
 * e2e tests use). Throws with what is missing when no Chromium is installed (`npm test` installs one).
 */
export async function startBrowserSession(ctx: BenchContext): Promise<BrowserSession> {
  const executablePath = process.env.CHROMIUM_PATH || findChromium()
  if (!executablePath) {
    throw new Error('no Chromium found: install it (npm test does, from Debian packages) or set CHROMIUM_PATH')
  }
  const outDir = mkdtempSync(join(ctx.workDir, 'stock-page-'))
  const { build } = await import('vite')
  await build({
    root: stockPageSource,
    configFile: false,
    logLevel: 'warn',
    base: './',
    // One chunk (CodeMirror, Yjs and the provider, about 600 kB) is what these pages are; no warning about its size.
    build: { outDir, emptyOutDir: true, reportCompressedSize: false, chunkSizeWarningLimit: 4096 },
  })
  const server = await serveDirectory(outDir)
  const childrenBefore = new Set(childPids())
  const browser = await chromium.launch({
    executablePath,
    args: [...chromiumArgs],
  })
  const { port } = server.address() as AddressInfo
  // Chromium is the child this process gained by launching it (Debian's /usr/bin/chromium is a script that execs it).
  const chromiumPids = childPids().filter((pid) => !childrenBefore.has(pid))
  const treeCpu = () => chromiumPids.reduce((sum, pid) => sum + treeCpuSeconds(pid), 0)
  let frozen: number | null = null
  return {
    browser,
    stockPageUrl: `http://127.0.0.1:${port}/index.html`,
    cpuSeconds: () => frozen ?? treeCpu(),
    close: async () => {
      const used = treeCpu()
      const reapedBefore = benchCpuSeconds()
      await browser.close()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      // Processes reaped by this one now count in its own children's time; the rest is Chromium's alone.
      frozen = Math.max(0, used - (benchCpuSeconds() - reapedBefore))
    },
  }
}

/** This process's children that are running. */
function childPids(): number[] {
  try {
    const list = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim()
    return list === '' ? [] : list.split(' ').map(Number)
  } catch {
    return []
  }
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
}

/** A static file server on loopback for the built page. */
async function serveDirectory(dir: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname))
    const file = join(dir, path === '/' ? 'index.html' : path)
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': contentTypes[extname(file)] ?? 'application/octet-stream' })
    createReadStream(file).pipe(res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

/**
 * What the workload reads in a page (the functions passed to `evaluate` run there): the document and text of whichever
 * editor it runs, our web app's or the peers' page's.
 */
interface EditorWindow {
  collab?: { editor: { doc: EditorDoc; ytext: { length: number }; status: { connection: string } } }
  bench?: { doc: EditorDoc; ytext: { length: number }; synced(): boolean }
  lengthSamples?: Array<[number, number]>
  localStorage?: { setItem(key: string, value: string): void }
}
interface EditorDoc {
  on(event: 'update', listener: () => void): void
}

/** Opens one tab of `spec`'s editor on `room` in a new browser context and waits until it is synced. */
async function openTab(
  session: BrowserSession,
  spec: SystemSpec,
  serverUrl: string,
  room: string,
  user: string,
  contexts: BrowserContext[],
  errors: string[],
): Promise<Page> {
  const context = await session.browser.newContext()
  contexts.push(context)
  const page = await context.newPage()
  page.on('pageerror', (error) => errors.push(`${user}: ${error.message}`))
  if (spec.id === 'ours') {
    // Our web app remembers who you are in localStorage; set it so that neither tab asks.
    await context.addInitScript(
      (name) =>
        (globalThis as unknown as EditorWindow).localStorage?.setItem(
          'collab:identity',
          JSON.stringify({ name, color: '#14958a' }),
        ),
      user,
    )
    await page.goto(`${serverUrl.replace(/^ws/, 'http')}/d/${encodeURIComponent(room)}`)
  } else {
    const provider = spec.id === 'hocuspocus' ? 'hocuspocus' : 'y-websocket'
    const query = new URLSearchParams({ provider, server: serverUrl, room, user })
    await page.goto(`${session.stockPageUrl}?${query}`)
  }
  await page.waitForFunction(
    () => {
      const w = globalThis as unknown as EditorWindow
      return w.collab ? w.collab.editor.status.connection === 'synced' : (w.bench?.synced() ?? false)
    },
    undefined,
    { timeout: 15_000, polling: 10 },
  )
  return page
}

/** Records, in the page, the time and the text's length after every change of its document. */
async function recordLengths(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = globalThis as unknown as EditorWindow
    const editor = w.collab?.editor ?? w.bench
    if (!editor) throw new Error('no editor on the page')
    const samples: Array<[number, number]> = []
    w.lengthSamples = samples
    editor.doc.on('update', () => samples.push([performance.timeOrigin + performance.now(), editor.ytext.length]))
  })
}

const lengthSamples = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as EditorWindow).lengthSamples ?? ([] as Array<[number, number]>))

/**
 * One measurement: a fresh server of `spec`, two tabs on a new document, `keystrokes` characters typed at the end
 * of the first tab `delayMs` apart; the delay of each from the change in the typing tab to the first moment the
 * other tab held a text that long (lengths, not counts of updates, so that merged deliveries are not shifted).
 */
export async function runBrowser(ctx: BenchContext, spec: SystemSpec, session: BrowserSession): Promise<BrowserResult> {
  const { keystrokes, delayMs } = ctx.plan.browser
  const deployment = await singleInstance(ctx, spec, 'browser')
  const contexts: BrowserContext[] = []
  const errors: string[] = []
  try {
    const url = deployment.urls[0]!
    const room = `browser-${Date.now().toString(36)}`
    const writer = await openTab(session, spec, url, room, 'Writer', contexts, errors)
    const reader = await openTab(session, spec, url, room, 'Reader', contexts, errors)
    // Let both see each other (presence) and settle before typing.
    await sleep(500)
    await recordLengths(writer)
    await recordLengths(reader)
    const text = 'the quick brown fox jumps over the lazy dog '.repeat(Math.ceil(keystrokes / 44)).slice(0, keystrokes)
    const cpu = startCpuWindow(deployment.instances[0]!.pid)
    await writer.click('.cm-content')
    await writer.keyboard.press('Control+End')
    await writer.keyboard.type(text, { delay: delayMs })
    await reader.waitForFunction(
      (length) => {
        const w = globalThis as unknown as EditorWindow
        return ((w.collab?.editor ?? w.bench)?.ytext.length ?? 0) >= length
      },
      keystrokes,
      { timeout: 10_000, polling: 20 },
    )
    const serverCpu = cpu().fraction
    if (errors.length > 0) throw new Error(`errors in the pages: ${errors.join('; ')}`)
    const sent = await lengthSamples(writer)
    const received = await lengthSamples(reader)
    if (sent.length !== keystrokes || sent.at(-1)?.[1] !== keystrokes) {
      throw new Error(`the typing tab saw ${sent.length} changes for ${keystrokes} keystrokes`)
    }
    const { offset, uncertainty } = await clockOffset(writer, reader)
    const delays = sent.map(([at, length]) => {
      const arrival = received.find(([, receivedLength]) => receivedLength >= length)
      if (!arrival) throw new Error(`the keystroke that made the text ${length} long never arrived`)
      return arrival[0] - offset - at
    })
    return {
      keystrokes,
      p50Ms: percentile(delays, 50),
      p95Ms: percentile(delays, 95),
      maxMs: Math.max(...delays),
      clockOffsetMs: offset,
      clockUncertaintyMs: uncertainty,
      serverCpu,
    }
  } finally {
    await Promise.all(contexts.map((context) => context.close().catch(() => {})))
    await deployment.stop()
  }
}
