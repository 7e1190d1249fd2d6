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
