#!/usr/bin/env node
// Builds examples/vanilla and examples/react the way an outside app gets our packages: from the tarballs `npm pack`
// makes of them (not workspace links), next to a host-pinned older Yjs 13.6. The examples are outside the
// workspaces, so npm installs them as it would any app; a tarball that misses a file, a wrong `exports` entry, a
// range pointing at the registry or a dependency that should be a peer fails here, before the browser test that
// co-edits through the vanilla example (e2e/tests/examples.spec.ts).
//
//   node scripts/build-examples.mjs   (after the build: the tarballs hold each package's dist/)
//
// Tarballs go to examples/.tarballs/ under version-less names (collab-editor.tgz), so the examples' package.json
// files need no change when the version does. The installs use the npm cache first (`--prefer-offline`) and write
// no lockfile: the tarballs change with every build.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { publishedPackages, root } from './published-packages.mjs'

const examplesDir = join(root, 'examples')
const tarballs = join(examplesDir, '.tarballs')
const examples = ['vanilla', 'react']

function run(title, command, args, cwd) {
  console.log(`--- ${title}: ${command} ${args.join(' ')}`)
  const result = spawnSync(command, args, { cwd, stdio: 'inherit' })
  if (result.status !== 0) {
    console.error(`--- ${title} failed (exit ${result.status ?? result.signal})`)
    process.exit(result.status || 1)
  }
}

const packages = publishedPackages()
for (const pkg of packages) {
  if (!existsSync(join(pkg.dir, 'dist', 'index.js'))) {
    console.error(`${pkg.name} is not built (no dist/index.js): run \`npx turbo run build\` first`)
    process.exit(1)
  }
}
rmSync(tarballs, { recursive: true, force: true })
mkdirSync(tarballs, { recursive: true })
run(
  'pack',
  'npm',
  ['pack', '--silent', '--pack-destination', tarballs, ...packages.map((pkg) => `--workspace=${pkg.name}`)],
  root,
)
for (const file of readdirSync(tarballs)) {
  // collab-editor-0.1.0.tgz -> collab-editor.tgz
  renameSync(join(tarballs, file), join(tarballs, file.replace(/-\d+\.\d+\.\d+(?:-[\w.]+)?\.tgz$/, '.tgz')))
}

for (const example of examples) {
  const dir = join(examplesDir, example)
  // A fresh install each time: npm would otherwise keep the previous build's tarball contents.
  rmSync(join(dir, 'node_modules'), { recursive: true, force: true })
  run(
    `${example}: install`,
    'npm',
    ['install', '--no-package-lock', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'],
    dir,
  )
  run(`${example}: type-check and build`, 'npm', ['run', 'build'], dir)
}
