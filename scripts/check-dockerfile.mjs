#!/usr/bin/env node
// Checks docker/Dockerfile without a Docker engine (none runs on our machines, STACK.md trap 16): copies the build
// context (minus what its ignore file excludes) to a temporary directory, runs every stage's COPY, WORKDIR, ENV and
// RUN steps there with this machine's Node and npm (each stage's filesystem is a directory; absolute paths inside
// a stage are mapped into it), then starts the final stage's CMD from its layout, checks /healthz, /readyz, the web
// app and a document written through the API, runs the HEALTHCHECK command, and stops it with the STOPSIGNAL.
//
// What it cannot check: the base images themselves (their Node and npm versions, users, libc), steps that change
// the system (chown, apt-get, useradd: reported as skipped), file ownership and permissions inside the image, and
// Docker's caching. `docker build` on a machine with an engine remains the final word.
//
//   node scripts/check-dockerfile.mjs [--keep] [--dockerfile <path>]
//   (--keep leaves the temporary directory for inspection; --dockerfile checks another file, docker/Dockerfile by
//   default, with the same build context: the repository)
import { spawn, spawnSync } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, posix, relative, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { dockerignoreMatcher, envPairs, execForm, parseDockerfile, substitute, words } from './dockerfile.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dockerfileFlag = process.argv.indexOf('--dockerfile')
const dockerfilePath =
  dockerfileFlag > 0 ? resolve(process.argv[dockerfileFlag + 1] ?? '') : join(root, 'docker/Dockerfile')
const keep = process.argv.includes('--keep')
const scratch = mkdtempSync(join(tmpdir(), 'collab-dockerfile-'))
/** Commands that change the system rather than files of the build; they cannot run outside a container. */
const systemCommands = /(^|[\s;&|(])(apt-get|apt|apk|chown|chgrp|useradd|groupadd|adduser|addgroup|usermod|su|sudo)\s/

let failed = false
const notes = []
function step(message) {
  console.log(`check-dockerfile: ${message}`)
}
function fail(message) {
  console.error(`check-dockerfile: FAILED: ${message}`)
  failed = true
}

/** Copies the build context into `target`, leaving out what the ignore file excludes. */
function copyContext(target) {
  const ignoreFile = [join(root, 'docker/Dockerfile.dockerignore'), join(root, '.dockerignore')].find(existsSync)
  const ignore = dockerignoreMatcher(ignoreFile ? readFileSync(ignoreFile, 'utf8') : '')
  let files = 0
  const walk = (dir) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = dir === '' ? entry.name : `${dir}/${entry.name}`
      const excluded = ignore.excluded(path)
      if (entry.isDirectory()) {
        if (excluded && !ignore.hasNegations) continue
        mkdirSync(join(target, path), { recursive: true })
        walk(path)
      } else if (!excluded) {
        cpSync(join(root, path), join(target, path), { verbatimSymlinks: true })
        files++
      }
    }
  }
  mkdirSync(target, { recursive: true })
  walk('')
  step(`build context: ${files} files (ignore file: ${ignoreFile ? relative(root, ignoreFile) : 'none'})`)
}

/**
 * A stage: its filesystem (a directory standing for `/`), working directory, environment and metadata. A parent
 * stage nothing else refers to is moved rather than copied (its node_modules are large).
 */
function newStage(name, index, from, parentNeededLater) {
  const fsRoot = join(scratch, 'stages', `${index}-${name}`)
  if (from && parentNeededLater) cpSync(from.fsRoot, fsRoot, { recursive: true, verbatimSymlinks: true })
  else if (from) renameSync(from.fsRoot, fsRoot)
  else mkdirSync(fsRoot, { recursive: true })
  return {
    name,
    fsRoot,
    workdir: from?.workdir ?? '/',
    env: { ...(from?.env ?? {}) },
    args: {},
    user: from?.user ?? 'root',
    volumes: [...(from?.volumes ?? [])],
    healthcheck: from?.healthcheck ?? null,
    cmd: from?.cmd ?? null,
    stopSignal: from?.stopSignal ?? 'SIGTERM',
  }
}

/** Where a path inside the stage lives on this machine. */
const mapped = (stage, path) => join(stage.fsRoot, posix.resolve(stage.workdir, path))

/** Rewrites absolute paths of a RUN command that point into the stage's own directories. */
function mapAbsolutePaths(stage, command) {
  const tops = new Set(readdirSync(stage.fsRoot))
  return command.replace(/(^|[\s=:'"])(\/[\w.@/-]*)/g, (whole, before, path) => {
    const top = path.split('/')[1]
    return top && tops.has(top) ? `${before}${join(stage.fsRoot, path)}` : whole
  })
}

function copyInto(stage, instruction, stages, contextDir) {
  const parts = execForm(instruction.args) ?? words(instruction.args)
  const sources = parts.slice(0, -1).map((source) => substitute(source, { ...stage.args, ...stage.env }))
  const destination = substitute(parts.at(-1) ?? '', { ...stage.args, ...stage.env })
  const from = instruction.flags.from
  const sourceStage = from === undefined ? null : stages.find((s) => s.name === from)
  if (from !== undefined && !sourceStage)
    throw new Error(`COPY --from=${from}: no such stage (external images cannot be checked)`)
  const destinationIsDir = destination.endsWith('/') || destination === '.' || sources.length > 1
  for (const source of sources) {
    if (/[*?[]/.test(source)) throw new Error(`COPY ${source}: wildcards are not supported by this check`)
    const origin = sourceStage ? join(sourceStage.fsRoot, posix.resolve('/', source)) : join(contextDir, source)
    if (!existsSync(origin))
      throw new Error(`COPY ${source}: not found in ${from ? `stage ${from}` : 'the build context'}`)
    const isDir = statSync(origin).isDirectory()
    const target =
      isDir || !destinationIsDir ? mapped(stage, destination) : join(mapped(stage, destination), posix.basename(source))
    mkdirSync(isDir ? target : dirname(target), { recursive: true })
    cpSync(origin, target, { recursive: true, verbatimSymlinks: true, force: true })
  }
}

function run(stage, instruction) {
  const argv = execForm(instruction.args)
  const command = argv ? argv.join(' ') : instruction.args
  if (systemCommands.test(` ${command} `)) {
    notes.push(`line ${instruction.line}: skipped (changes the system, needs the image): RUN ${command}`)
    step(`  skipped RUN ${command} (system change, not portable)`)
    return
  }
  const cwd = mapped(stage, '.')
  mkdirSync(cwd, { recursive: true })
  step(`  RUN ${command}`)
  const started = Date.now()
  const env = {
    // Settings of an npm that started this script (npm test) must not steer the image's own npm commands.
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_'))),
    ...stage.args,
    ...stage.env,
    // The same install, answered from the local npm cache where it can be (Docker would download everything).
    npm_config_prefer_offline: 'true',
  }
  const result = argv
    ? spawnSync(
        argv[0] ?? '',
        argv.slice(1).map((arg) => mapAbsolutePaths(stage, arg)),
        { cwd, env, stdio: 'inherit' },
      )
    : spawnSync('/bin/sh', ['-c', mapAbsolutePaths(stage, command)], { cwd, env, stdio: 'inherit' })
  if (result.status !== 0) throw new Error(`RUN ${command} failed (exit ${result.status ?? result.signal})`)
  step(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

/** Runs every instruction; returns the stages, the last being the image. */
function build(contextDir) {
  const instructions = parseDockerfile(readFileSync(dockerfilePath, 'utf8'))
  const globalArgs = {}
  const stages = []
  let stage = null
  const referencedAfter = (name, index) =>
    instructions.slice(index + 1).some(({ keyword, args, flags }) => {
      return flags.from === name || (keyword === 'FROM' && words(args)[0] === name)
    })
  for (const [index, instruction] of instructions.entries()) {
    const { keyword, args } = instruction
    if (keyword === 'ARG' && !stage) {
      for (const [name, value] of envPairs(args.includes('=') ? args : `${args}=`)) globalArgs[name] = value
      continue
    }
    if (keyword === 'FROM') {
      const [image = '', as, name] = words(substitute(args, globalArgs))
      const stageName = as?.toLowerCase() === 'as' && name ? name : String(stages.length)
      const parent = stages.find((s) => s.name === image)
      stage = newStage(stageName, stages.length, parent, parent ? referencedAfter(parent.name, index) : false)
      if (parent && !referencedAfter(parent.name, index)) parent.fsRoot = stage.fsRoot
      stages.push(stage)
      step(`stage ${stageName} FROM ${image}`)
      if (!parent) checkBaseImage(image)
      continue
    }
    if (!stage) throw new Error(`line ${instruction.line}: ${keyword} before FROM`)
    const vars = { ...globalArgs, ...stage.args, ...stage.env }
    switch (keyword) {
      case 'ARG':
        for (const [name, value] of envPairs(args.includes('=') ? args : `${args}=`)) {
          stage.args[name] = value !== '' ? value : (globalArgs[name] ?? '')
        }
        break
      case 'ENV':
        for (const [name, value] of envPairs(args)) stage.env[name] = substitute(value, vars)
        break
      case 'WORKDIR':
        stage.workdir = posix.resolve(stage.workdir, substitute(args, vars))
        mkdirSync(mapped(stage, '.'), { recursive: true })
        break
      case 'COPY':
      case 'ADD':
        if (keyword === 'ADD') throw new Error(`line ${instruction.line}: use COPY (ADD fetches and unpacks)`)
        copyInto(stage, instruction, stages, contextDir)
        break
      case 'RUN':
        run(stage, instruction)
        break
      case 'USER':
        stage.user = substitute(args, vars)
        break
      case 'VOLUME':
        stage.volumes.push(...(execForm(args) ?? words(args)))
        for (const volume of stage.volumes) mkdirSync(mapped(stage, volume), { recursive: true })
        break
      case 'HEALTHCHECK':
        stage.healthcheck = args.replace(/^CMD\s+/i, '')
        break
      case 'CMD':
      case 'ENTRYPOINT':
        if (keyword === 'ENTRYPOINT') throw new Error('ENTRYPOINT is not supported by this check; use CMD')
        stage.cmd = args
        break
      case 'STOPSIGNAL':
        stage.stopSignal = args.trim()
        break
      case 'EXPOSE':
      case 'LABEL':
        break
      default:
        throw new Error(`line ${instruction.line}: ${keyword} is not supported by this check`)
    }
  }
  if (!stage) throw new Error('no FROM in the Dockerfile')
  return stages
}

/** The base image's Node major should be this machine's, or the check runs a different Node than the image. */
function checkBaseImage(image) {
  const major = /^node:(\d+)/.exec(image)?.[1]
  const ours = process.versions.node.split('.')[0]
  if (major === undefined) notes.push(`base image ${image} is not node:<major>: its contents are not checked`)
  else if (major !== ours)
    fail(`the image uses Node ${major}, this machine runs Node ${ours}: the check would not be faithful`)
}

/** Static properties of the final image. */
function checkImage(image) {
  if (['root', '0', ''].includes(image.user.split(':')[0] ?? ''))
    fail(`the image runs as ${image.user}, not an unprivileged user`)
  if (!image.healthcheck) fail('no HEALTHCHECK')
  if (image.env.HOST !== '0.0.0.0') fail(`HOST is ${image.env.HOST ?? 'unset'}; in a container it must be 0.0.0.0`)
  if (!image.env.DATA_DIR || !image.volumes.includes(image.env.DATA_DIR)) {
    fail(`DATA_DIR (${image.env.DATA_DIR ?? 'unset'}) is not a VOLUME (${image.volumes.join(', ') || 'none'})`)
  }
  if (!image.cmd) fail('no CMD')
  const app = mapped(image, '.')
  // Development dependencies of the root and of every workspace the image holds, unless something there also
  // needs them at run time.
  const manifests = [join(root, 'package.json')]
  const runtimeRoot = join(app, 'package.json')
  if (existsSync(runtimeRoot)) {
    const workspaces = JSON.parse(readFileSync(runtimeRoot, 'utf8')).workspaces ?? []
    manifests.push(...workspaces.map((dir) => join(app, dir, 'package.json')).filter(existsSync))
  }
  const parsed = manifests.map((path) => JSON.parse(readFileSync(path, 'utf8')))
  const runtime = new Set(parsed.flatMap((manifest) => Object.keys(manifest.dependencies ?? {})))
  const devOnly = parsed
    .flatMap((manifest) => Object.keys(manifest.devDependencies ?? {}))
    .filter((name) => !runtime.has(name))
  for (const name of new Set([...devOnly, '@playwright/test', 'vite'])) {
    if (existsSync(join(app, 'node_modules', name))) fail(`the runtime holds a development dependency: ${name}`)
  }
  for (const path of ['apps/server/src', 'packages/server/src', 'apps/web/src', 'e2e', 'bench']) {
    if (existsSync(join(app, path))) fail(`the runtime holds ${path}, which only the build needs`)
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Starts the image's CMD from its layout, as the container would, and checks what it serves. */
async function checkRunning(image) {
  const port = await freePort()
  const dataDir = mapped(image, image.env.DATA_DIR ?? '/data')
  // HOST stays the image's 0.0.0.0 inside a container; here the loopback is enough and exposes nothing.
  const env = { ...process.env, ...image.env, HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir }
  const argv = execForm(image.cmd) ?? ['/bin/sh', '-c', image.cmd]
  step(`starting CMD ${argv.join(' ')} (PORT=${port})`)
  const child = spawn(argv[0] ?? '', argv.slice(1), { cwd: mapped(image, '.'), env, stdio: ['ignore', 'pipe', 'pipe'] })
  const output = []
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)))
  const listening = new Promise((resolve) => {
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line)
        if (/listening on http:\/\//.test(line)) resolve(true)
      })
    }
    exited.then(() => resolve(false))
    setTimeout(() => resolve(false), 15_000)
  })
  try {
    if (!(await listening)) throw new Error(`the server did not start:\n${output.join('\n')}`)
    const base = `http://127.0.0.1:${port}`
    const health = await fetch(`${base}/healthz`)
    const body = await health.json()
    if (health.status !== 200 || body.status !== 'ok')
      throw new Error(`/healthz answered ${health.status} ${JSON.stringify(body)}`)
    step('  /healthz 200 ok')
    const ready = await fetch(`${base}/readyz`)
    if (ready.status !== 200) throw new Error(`/readyz answered ${ready.status}`)
    step('  /readyz 200')
    const page = await (await fetch(`${base}/`)).text()
    if (!page.includes('<html')) throw new Error('the web app is not served at /')
    step('  the web app is served at /')
    await checkDocumentRoundTrip(base)
    step(`  a document written through the API is stored in ${image.env.DATA_DIR ?? '/data'}`)
    if (!readdirSync(dataDir).includes('CURRENT'))
      throw new Error(`no LevelDB files in the DATA_DIR volume (${dataDir})`)
    const healthArgv = execForm(image.healthcheck ?? '') ?? ['/bin/sh', '-c', image.healthcheck ?? 'false']
    const probe = spawnSync(healthArgv[0] ?? '', healthArgv.slice(1), { cwd: mapped(image, '.'), env, timeout: 10_000 })
    if (probe.status !== 0) throw new Error(`the HEALTHCHECK command failed (exit ${probe.status}): ${probe.stderr}`)
    step('  the HEALTHCHECK command passes')
  } finally {
    if (child.exitCode === null) child.kill(image.stopSignal)
  }
  const code = await exited
  if (code !== 0)
    throw new Error(`the server exited with ${code} on ${image.stopSignal}, not 0:\n${output.slice(-10).join('\n')}`)
  step(`  ${image.stopSignal} stops it with exit code 0`)
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

try {
  const started = Date.now()
  const contextDir = join(scratch, 'context')
  copyContext(contextDir)
  const stages = build(contextDir)
  const image = stages.at(-1)
  checkImage(image)
  await checkRunning(image)
  for (const note of notes) step(`note: ${note}`)
  step(failed ? 'the Dockerfile has problems (above)' : `passed in ${((Date.now() - started) / 1000).toFixed(0)} s`)
} catch (err) {
  fail(err instanceof Error ? err.message : String(err))
} finally {
  if (keep) step(`kept ${scratch} for inspection`)
  else {
    rmSync(scratch, { recursive: true, force: true })
    if (failed) step('run it again with --keep to inspect the stages')
  }
}
process.exit(failed ? 1 : 0)
