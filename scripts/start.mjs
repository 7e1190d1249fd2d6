#!/usr/bin/env node
// `npm start`: builds the server and the web app (turbo skips what is up to date), then runs the server in this
// process's place, passing the arguments after `npm start --` and forwarding SIGINT/SIGTERM so it shuts down
// cleanly and its exit code is ours.
import { spawn, spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' }
const build = spawnSync(
  'npx',
  ['turbo', 'run', 'build', '--filter=@collab/app-server...', '--filter=@collab/web...', '--output-logs=errors-only'],
  { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] },
)
if (build.status !== 0) {
  console.error('npm start: the build failed (see above); the server was not started.')
  process.exit(build.status ?? 1)
}
const server = spawn(process.execPath, [join(root, 'apps/server/dist/cli.js'), ...process.argv.slice(2)], {
  cwd: process.cwd(),
  env,
  stdio: 'inherit',
})
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal))
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
