// The two checks of scripts/check-dockerfile.mjs that decide without starting anything: that docker/Dockerfile still
// holds the lines the script acts out, and what a runtime tree may contain. Each is shown failing on the mistake it
// is there for.
//
//   node --test scripts/check-dockerfile.test.mjs
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { imageLines, layoutProblems, missingLines } from './check-dockerfile.mjs'

const dockerfile = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../docker/Dockerfile'), 'utf8')

test('docker/Dockerfile holds every line the check acts out', () => {
  assert.deepEqual(missingLines(dockerfile), [])
})

test('a line changed in the Dockerfile alone is reported as it is written in the check', () => {
  const edited = dockerfile.replace(imageLines.cmd, 'CMD ["node", "apps/server/dist/main.js"]')
  assert.deepEqual(missingLines(edited), [imageLines.cmd])
})

const scratch = mkdtempSync(join(tmpdir(), 'check-dockerfile-test-'))
after(() => rmSync(scratch, { recursive: true, force: true }))

/** A runtime tree with the given files (path to content); directories ending in `/` are created empty. */
function tree(name, files) {
  const dir = join(scratch, name)
  for (const [path, content] of Object.entries(files)) {
    if (path.endsWith('/')) mkdirSync(join(dir, path), { recursive: true })
    else {
      mkdirSync(dirname(join(dir, path)), { recursive: true })
      writeFileSync(join(dir, path), content)
    }
  }
  return dir
}

const layout = {
  'package.json': JSON.stringify({ workspaces: ['apps/server'] }),
  'package-lock.json': '{}',
  'apps/server/package.json': JSON.stringify({ name: '@collab/app-server', dependencies: { yjs: '*' } }),
  'apps/server/dist/cli.js': '',
  'apps/web/dist/index.html': '<html></html>',
  'node_modules/yjs/': '',
  'node_modules/@collab/app-server/': '',
}

test('a tree of compiled output, manifests and production dependencies passes', () => {
  assert.deepEqual(layoutProblems(tree('clean', layout)), [])
})

test('sources and development dependencies in the tree are reported by name', () => {
  const dir = tree('leaky', { ...layout, 'apps/server/src/cli.ts': '', 'node_modules/vite/': '' })
  assert.deepEqual(layoutProblems(dir), [
    'the runtime holds apps/server/src/cli.ts, which only the build needs',
    'the runtime holds vite, a development dependency nothing in it depends on',
  ])
})
