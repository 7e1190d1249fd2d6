#!/usr/bin/env node
// Assembles what the server needs at run time into one directory, for the runtime stage of docker/Dockerfile:
// the package.json and dist/ of @collab/app-server and of every workspace package it depends on (followed through
// `dependencies`, so a new internal dependency is picked up without editing the Dockerfile), the built web app,
// a root package.json listing only those workspaces, and the lockfile. `npm install --omit=dev` in that directory
// then installs exactly the production dependencies.
//
//   node scripts/runtime-layout.mjs <destination>     (after the build; the destination must not exist)
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const entry = '@collab/app-server'
const webDist = 'apps/web/dist'

const destination = process.argv[2]
if (!destination) {
  console.error('usage: node scripts/runtime-layout.mjs <destination>')
  process.exit(2)
}
const target = resolve(destination)
if (existsSync(target) && readdirSync(target).length > 0) {
  console.error(`runtime-layout: ${target} exists and is not empty`)
  process.exit(2)
}

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'))
const rootManifest = readJson(join(root, 'package.json'))

/** Workspace package name to its directory (relative to the root), from the root's `workspaces` globs. */
function workspaceDirs() {
  const dirs = new Map()
  for (const pattern of rootManifest.workspaces ?? []) {
    const candidates = pattern.endsWith('/*')
      ? readdirSync(join(root, pattern.slice(0, -2)), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => join(pattern.slice(0, -2), entry.name))
      : [pattern]
    for (const dir of candidates) {
      const manifest = join(root, dir, 'package.json')
      if (existsSync(manifest)) dirs.set(readJson(manifest).name, dir)
    }
  }
  return dirs
}

const workspaces = workspaceDirs()
const needed = []
const queue = [entry]
while (queue.length > 0) {
  const name = queue.shift()
  const dir = workspaces.get(name)
  if (dir === undefined || needed.includes(dir)) continue
  needed.push(dir)
  for (const dependency of Object.keys(readJson(join(root, dir, 'package.json')).dependencies ?? {})) {
    if (workspaces.has(dependency)) queue.push(dependency)
  }
}
if (needed.length === 0) {
  console.error(`runtime-layout: no workspace named ${entry}`)
  process.exit(1)
}

mkdirSync(target, { recursive: true })
for (const dir of needed) {
  const dist = join(root, dir, 'dist')
  if (!existsSync(dist)) {
    console.error(`runtime-layout: ${dir}/dist is missing; build first (npx turbo run build --filter=${entry}...)`)
    process.exit(1)
  }
  mkdirSync(join(target, dir), { recursive: true })
  cpSync(join(root, dir, 'package.json'), join(target, dir, 'package.json'))
  cpSync(dist, join(target, dir, 'dist'), { recursive: true })
}
if (!existsSync(join(root, webDist, 'index.html'))) {
  console.error(`runtime-layout: ${webDist} is missing; build the web app first (--filter=@collab/web...)`)
  process.exit(1)
}
cpSync(join(root, webDist), join(target, webDist), { recursive: true })

const manifest = {
  name: rootManifest.name,
  private: true,
  type: rootManifest.type,
  packageManager: rootManifest.packageManager,
  engines: rootManifest.engines,
  workspaces: needed,
}
writeFileSync(join(target, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
for (const file of ['package-lock.json', '.npmrc']) {
  if (existsSync(join(root, file))) cpSync(join(root, file), join(target, file))
}
console.log(`runtime-layout: ${needed.join(', ')} and ${webDist} -> ${relative(process.cwd(), target) || '.'}`)
