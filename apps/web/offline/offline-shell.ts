import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Plugin } from 'vite'

const workerSource = fileURLToPath(new URL('service-worker.js', import.meta.url))

/**
 * Emits the app's service worker as `sw.js` at the root of the build, with the list of files it precaches (every
 * emitted file but source maps) and a version that is a hash of their names and contents: each build that changes
 * anything is a new worker with a new cache, which replaces the old one when it activates (cache-busting without
 * a manual version number). The app registers it in `src/offline-shell-registration.ts`.
 */
export function offlineShell(): Plugin {
  return {
    name: 'collab:offline-shell',
    apply: 'build',
    // After Vite's HTML plugin, which emits index.html in its own generateBundle.
    enforce: 'post',
    generateBundle(_options, bundle) {
      const files = Object.keys(bundle)
        .filter((name) => !name.endsWith('.map'))
        .sort()
      const hash = createHash('sha256')
      for (const name of files) {
        const item = bundle[name]!
        hash.update(name)
        hash.update(item.type === 'chunk' ? item.code : item.source)
      }
      const source = readFileSync(workerSource, 'utf8')
      hash.update(source)
      const version = hash.digest('hex').slice(0, 16)
      const paths = files.map((name) => `/${name}`)
      this.emitFile({
        type: 'asset',
        fileName: 'sw.js',
        source: `const SHELL_VERSION = ${JSON.stringify(version)}\nconst SHELL_FILES = ${JSON.stringify(paths)}\n${source}`,
      })
    },
  }
}
