#!/usr/bin/env node
// `npm start`: builds the server and the web app (turbo skips what is up to date), then runs the server in this
// process's place, passing the arguments after `npm start --` and forwarding SIGINT/SIGTERM so it shuts down
// cleanly and its exit code is ours. COLLAB_SKIP_BUILD=1 runs what is already built (tests, images built before).
import { spawn, spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' }
if (process.env.COLLAB_SKIP_BUILD !== '1') {
  const build = spawnSync(
    'npx',
    ['turbo', 'run', 'build', '--filter=@collab/app-server...', '--filter=@collab/web...', '--output-logs=errors-only'],
    { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] },
  )
  if (build.status !== 0) {
    console.error('npm start: the build failed (see above); the server was not started.')
    process.exit(build.status ?? 1)
  }
}
// Loaded after the build, which makes them: the server's own rule for repeated stop signals, and the Node.js flags
// it is meant to run with.
const { signalVerdict } = await import(pathToFileURL(join(root, 'apps/server/dist/shutdown-signals.js')).href)
const { serverNodeFlags } = await import(pathToFileURL(join(root, 'apps/server/dist/node-flags.js')).href)

const cli = join(root, 'apps/server/dist/cli.js')
const server = spawn(process.execPath, [...serverNodeFlags, cli, ...process.argv.slice(2)], {
  cwd: process.cwd(),
  env,
  stdio: 'inherit',
})
// A signal to our process group (systemd, supervisord, tini -g, Ctrl-C) reaches the server too, and npm forwards
// the one it got to us as well: forward only the first of a burst, as the server counts them, so that one request
// stays one. A later signal is someone insisting, and goes through so the server exits at once.
let firstSignalAt = null
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    const now = performance.now()
    const verdict = signalVerdict(firstSignalAt, now)
    if (verdict === 'already shutting down') return
    firstSignalAt ??= now
    server.kill(signal)
  })
}
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
