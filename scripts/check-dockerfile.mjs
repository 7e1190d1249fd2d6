#!/usr/bin/env node
// Checks the image docker/Dockerfile describes as far as that can be done honestly without a Docker engine (none
// runs on our machines, STACK.md trap 16): the runtime stage's file tree, and that the server starts from it and
// serves.
//
// Why this much and no more. The image has three stages. `build` is `npm install` and the turbo build, which
// `npm test` has just run in this checkout. `layout` runs two commands, scripts/runtime-layout.mjs (ours) and
// `npm install --omit=dev`, and `runtime` copies their result to /app and starts `node <flags> apps/server/dist/cli.js`
// there. What breaks without anyone touching Docker lies in those two commands and that start: a file the server
// loads at run time that the layout leaves out, a runtime import of a development dependency, a native module the
// production install lacks. So this script runs the two commands on this checkout's build into a temporary
// directory, checks that the tree holds only compiled output, manifests and production dependencies, and starts
// the CMD from it with the image's ENV: /healthz, /readyz, the web app at /, a document written through the API
// and stored in DATA_DIR, the HEALTHCHECK command, and exit code 0 on the STOPSIGNAL.
//
// It does not read the Dockerfile as Docker does. The lines it acts out are written below (`imageLines`) and must
// appear verbatim in docker/Dockerfile, so an edit of one without the other fails here, naming the line. An earlier
// version parsed the Dockerfile and its .dockerignore and replayed every stage in a directory standing for that
// stage's filesystem, rewriting absolute paths in RUN by regex: a second, partial Docker, which tested its own
// emulation as much as the image. Left to `docker build` on a machine with an engine: the build stage from a clean
// context (what .dockerignore leaves out), the base image, the `node` user and the ownership of /data, and which
// stage each line is in.
//
//   node scripts/check-dockerfile.mjs [--keep] [--dockerfile <path>]
//   (after the build; --keep leaves the temporary directory for inspection; --dockerfile looks for the lines in
//   another file than docker/Dockerfile)
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** Lines of docker/Dockerfile this check acts out, as written there (leading spaces aside). */
export const imageLines = {
  layout: 'RUN node scripts/runtime-layout.mjs ../runtime',
  install: 'RUN npm install --omit=dev --no-audit --no-fund --workspace=@collab/app-server',
  copy: 'COPY --from=layout /runtime ./',
  env: 'ENV NODE_ENV=production HOST=0.0.0.0 PORT=1234 DATA_DIR=/data',
  // DATA_DIR of the ENV line: documents outside the volume are lost with the container.
  volume: 'VOLUME ["/data"]',
  user: 'USER node',
  healthcheck:
    'CMD ["node", "-e", "fetch(\'http://127.0.0.1:\' + (process.env.PORT || 1234) + \'/healthz\').then((r) => ' +
    'process.exit(r.ok ? 0 : 1), () => process.exit(1))"]',
  stopSignal: 'STOPSIGNAL SIGTERM',
  cmd: 'CMD ["node", "--max-semi-space-size=32", "apps/server/dist/cli.js"]',
}

/** `ENV A=1 B=2` as an object (the line above has no quoted values). */
const imageEnv = Object.fromEntries(
  imageLines.env
    .slice('ENV '.length)
    .split(' ')
    .map((pair) => pair.split('=')),
)

/** The lines of `imageLines` that `dockerfile` (its text) does not hold. */
export function missingLines(dockerfile) {
  const present = new Set(dockerfile.split('\n').map((line) => line.trim()))
  return Object.values(imageLines).filter((line) => !present.has(line))
}

/** The repository's workspace directories (relative to it), from the root's `workspaces` globs. */
function workspaceDirs() {
  const patterns = readJson(join(root, 'package.json')).workspaces ?? []
  return patterns.flatMap((pattern) =>
    pattern.endsWith('/*')
      ? readdirSync(join(root, pattern.slice(0, -2))).map((name) => join(pattern.slice(0, -2), name))
      : [pattern],
  )
}

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'))

/**
 * What the runtime tree at `dir` holds that the image should not: any file but compiled output (`dist/`),
 * manifests and the lockfile outside node_modules, and any package that only the build, the tests or the benchmarks
 * use (a development dependency of a workspace, and neither a workspace the tree holds nor a dependency of one).
 */
export function layoutProblems(dir) {
  const problems = []
  const walk = (path) => {
    for (const entry of readdirSync(join(dir, path), { withFileTypes: true })) {
      const child = path === '' ? entry.name : `${path}/${entry.name}`
      if (entry.isDirectory() && entry.name !== 'node_modules' && entry.name !== 'dist') walk(child)
      else if (!entry.isDirectory() && !['package.json', 'package-lock.json', '.npmrc'].includes(entry.name)) {
        problems.push(`the runtime holds ${child}, which only the build needs`)
      }
    }
  }
  walk('')
  const manifests = [join(root, 'package.json'), ...workspaceDirs().map((ws) => join(root, ws, 'package.json'))]
  const devDependencies = manifests
    .filter(existsSync)
    .flatMap((path) => Object.keys(readJson(path).devDependencies ?? {}))
  const held = (readJson(join(dir, 'package.json')).workspaces ?? [])
    .map((ws) => join(dir, ws, 'package.json'))
    .filter(existsSync)
    .map(readJson)
  const runtime = new Set(held.flatMap((manifest) => [manifest.name, ...Object.keys(manifest.dependencies ?? {})]))
  for (const name of new Set(devDependencies)) {
    if (!runtime.has(name) && existsSync(join(dir, 'node_modules', name))) {
      problems.push(`the runtime holds ${name}, a development dependency nothing in it depends on`)
    }
  }
  return problems
}

function step(message) {
  console.log(`check-dockerfile: ${message}`)
}

/** Runs one `RUN` line's command; the environment of an npm that started this script must not steer it. */
function run(argv, cwd) {
  step(`  ${argv.join(' ')}`)
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')))
  // The same install, answered from the local npm cache where it can be (Docker would download everything).
  env.npm_config_prefer_offline = 'true'
  const result = spawnSync(argv[0] ?? '', argv.slice(1), { cwd, env, stdio: 'inherit' })
  if (result.status !== 0) throw new Error(`${argv.join(' ')} failed (exit ${result.status ?? result.signal})`)
}

/** Builds the runtime tree in `scratch` as the layout stage does, and returns its directory. */
function buildRuntime(scratch) {
  const runtime = join(scratch, 'runtime')
  // The layout stage runs in /app and writes to /runtime; here the destination is the scratch directory.
  run([...imageLines.layout.split(' ').slice(1, -1), runtime], root)
  run(imageLines.install.split(' ').slice(1), runtime)
  return runtime
}

/** Starts the CMD from the runtime tree with the image's environment, checks what it serves, and stops it. */
async function checkRunning(runtime, scratch) {
  const { freePort } = await import('@collab/test-services')
  const { waitFor } = await import('@collab/test-support')
  const port = await freePort()
  const dataDir = join(scratch, 'data')
  mkdirSync(dataDir)
  // Only the image's variables, not this shell's. HOST stays 0.0.0.0 in a container; here the loopback is enough
  // and exposes nothing.
  const env = { PATH: process.env.PATH ?? '', ...imageEnv, HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir }
  const cmd = JSON.parse(imageLines.cmd.slice('CMD '.length))
  step(`starting ${cmd.join(' ')} in the runtime tree (PORT=${port})`)
  const child = spawn(cmd[0], cmd.slice(1), { cwd: runtime, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const output = []
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => output.push(line))
  }
  const exited = new Promise((resolvePromise) => child.once('exit', (code, signal) => resolvePromise(code ?? signal)))
  const base = `http://127.0.0.1:${port}`
  const stopSignal = imageLines.stopSignal.split(' ')[1]
  try {
    await waitFor(
      'the server to answer /healthz',
      async () => {
        if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}):\n${output.join('\n')}`)
        try {
          await fetch(`${base}/healthz`)
          return true
        } catch {
          // Connections are refused until it listens.
          return false
        }
      },
      15_000,
    )
    const health = await fetch(`${base}/healthz`)
    const body = await health.json()
    if (health.status !== 200 || body.status !== 'ok') {
      throw new Error(`/healthz answered ${health.status} ${JSON.stringify(body)}`)
    }
    step('  /healthz 200 ok')
    const ready = await fetch(`${base}/readyz`)
    if (ready.status !== 200) throw new Error(`/readyz answered ${ready.status}`)
    step('  /readyz 200')
    const page = await (await fetch(`${base}/`)).text()
    if (!page.includes('<html')) throw new Error('the web app is not served at /')
    step('  the web app is served at /')
    await checkDocumentRoundTrip(base)
    if (!readdirSync(dataDir).includes('CURRENT')) throw new Error(`no LevelDB files in DATA_DIR (${dataDir})`)
    step(`  a document written through the API is stored in DATA_DIR (${imageEnv.DATA_DIR} in the image)`)
    const probeArgv = JSON.parse(imageLines.healthcheck.slice('CMD '.length))
    const probe = spawnSync(probeArgv[0], probeArgv.slice(1), { cwd: runtime, env, timeout: 10_000 })
    if (probe.status !== 0) throw new Error(`the HEALTHCHECK command failed (exit ${probe.status}): ${probe.stderr}`)
    step('  the HEALTHCHECK command passes')
  } finally {
    if (child.exitCode === null) child.kill(stopSignal)
  }
  const code = await exited
  if (code !== 0)
    throw new Error(`the server exited with ${code} on ${stopSignal}, not 0:\n${output.slice(-10).join('\n')}`)
  step(`  ${stopSignal} stops it with exit code 0`)
}

/** Writes a document through the HTTP API and reads its text back. */
async function checkDocumentRoundTrip(base) {
  const Y = await import('yjs')
  const doc = new Y.Doc()
  doc.getText('codemirror').insert(0, 'stored by the image check')
  const posted = await fetch(`${base}/api/docs/image-check%2Fdoc/updates`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Y.encodeStateAsUpdate(doc),
  })
  doc.destroy()
  if (posted.status !== 204) throw new Error(`POST /api/docs/<name>/updates answered ${posted.status}`)
  const text = await (await fetch(`${base}/api/docs/image-check%2Fdoc`)).text()
  if (text !== 'stored by the image check') throw new Error(`the document reads back as ${JSON.stringify(text)}`)
}

/** The image's Node major must be this machine's, or the start and the native modules are checked on another Node. */
function nodeVersionProblem(dockerfile) {
  const image = /^ARG NODE_VERSION=(\d+)\s*$/m.exec(dockerfile)?.[1]
  const ours = process.versions.node.split('.')[0]
  if (image === undefined) return 'no `ARG NODE_VERSION=<major>` line: which Node the image runs is unknown'
  return image === ours
    ? null
    : `the image runs Node ${image}, this machine Node ${ours}: the check would not be faithful`
}

async function main() {
  const flag = process.argv.indexOf('--dockerfile')
  const dockerfilePath = flag > 0 ? resolve(process.argv[flag + 1] ?? '') : join(root, 'docker/Dockerfile')
  const keep = process.argv.includes('--keep')
  const scratch = mkdtempSync(join(tmpdir(), 'collab-dockerfile-'))
  let runtime = null
  const started = Date.now()
  let failed = false
  const fail = (message) => {
    console.error(`check-dockerfile: FAILED: ${message}`)
    failed = true
  }
  try {
    const dockerfile = readFileSync(dockerfilePath, 'utf8')
    const missing = missingLines(dockerfile)
    for (const line of missing) {
      fail(
        `${relative(root, dockerfilePath)} has no line \`${line}\`. This check runs what that line says: change ` +
          'imageLines in scripts/check-dockerfile.mjs together with the Dockerfile.',
      )
    }
    const versionProblem = nodeVersionProblem(dockerfile)
    if (versionProblem) fail(versionProblem)
    // The image starts the server with the Node.js flags it is meant to run with, like `npm start`.
    const { serverNodeFlags } = await import(pathToFileURL(join(root, 'apps/server/dist/node-flags.js')).href)
    const cmd = JSON.parse(imageLines.cmd.slice('CMD '.length))
    for (const nodeFlag of serverNodeFlags.filter((nodeFlag) => !cmd.includes(nodeFlag))) {
      fail(`the CMD does not pass ${nodeFlag} (serverNodeFlags in apps/server/src/node-flags.ts)`)
    }
    if (failed) return
    step(`${relative(root, dockerfilePath)} holds the ${Object.keys(imageLines).length} lines this check acts out`)
    step('the layout stage, run on this checkout as built:')
    runtime = buildRuntime(scratch)
    for (const problem of layoutProblems(runtime)) fail(problem)
    if (failed) return
    step('  the runtime tree holds compiled output, manifests and production dependencies only')
    await checkRunning(runtime, scratch)
    step(`passed in ${((Date.now() - started) / 1000).toFixed(0)} s`)
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err))
  } finally {
    if (keep) step(`kept ${scratch} for inspection`)
    else {
      rmSync(scratch, { recursive: true, force: true })
      if (failed && runtime !== null) step('run it again with --keep to inspect the runtime tree')
    }
    process.exitCode = failed ? 1 : 0
  }
}

// Imported by its test for the pure checks; run as a script, it checks the image.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
