// Where a Chromium for the browser tests is: CHROMIUM_PATH, Playwright's own download, or Debian's package
// (STACK.md trap 10: `npx playwright install` cannot download here).
import { existsSync, readdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

export function findChromium() {
  const candidates = []
  if (process.env.CHROMIUM_PATH) candidates.push(process.env.CHROMIUM_PATH)
  const playwrightCache = process.env.PLAYWRIGHT_BROWSERS_PATH || join(homedir(), '.cache', 'ms-playwright')
  if (existsSync(playwrightCache)) {
    for (const entry of readdirSync(playwrightCache).sort().reverse()) {
      if (entry.startsWith('chromium-')) candidates.push(join(playwrightCache, entry, 'chrome-linux', 'chrome'))
    }
  }
  candidates.push('/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome')
  return candidates.find((path) => existsSync(path))
}

/** The flags every headless Chromium here gets: without them it keeps trying to reach Google's hosts (trap 10). */
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** A page's clock: its time origin plus its monotonic time. */
const clock = (page) => page.evaluate(() => performance.timeOrigin + performance.now())

/**
 * How far page B's clock is ahead of page A's. Chromium's clocks disagree across renderer processes by several ms,
 * so it is estimated NTP-style: A, B, A in a row, keeping the sample with the shortest bracket (its half-width is
 * the uncertainty).
 */
export async function clockOffset(a, b) {
  let best = { offset: 0, uncertainty: Number.POSITIVE_INFINITY }
  for (let i = 0; i < 30; i++) {
    const before = await clock(a)
    const other = await clock(b)
    const after = await clock(a)
    const uncertainty = (after - before) / 2
    if (uncertainty < best.uncertainty) best = { offset: other - (before + after) / 2, uncertainty }
  }
  return best
}
