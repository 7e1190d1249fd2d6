// `npm run bench` starts here: it re-runs the orchestrator (orchestrator.ts) pinned to core 1 and at a raised
// scheduling priority, so that every thread of the load generator, and every server it starts (which inherit the
// priority and are pinned to core 0), win the CPU over whatever else this machine is running.
import { spawn, spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tasksetPath } from './server-process.js'

/** A priority above normal; nice values below 0 need root (or CAP_SYS_NICE), so it is tried first. */
const niceness = '-10'
const canRaisePriority = spawnSync('nice', ['-n', niceness, 'true']).status === 0
const orchestrator = join(dirname(fileURLToPath(import.meta.url)), 'orchestrator.js')
const command = [
  ...(canRaisePriority ? ['nice', '-n', niceness] : []),
  ...(tasksetPath ? [tasksetPath, '-c', '1'] : []),
  process.execPath,
  orchestrator,
  ...process.argv.slice(2),
]
const child = spawn(command[0]!, command.slice(1), {
  stdio: 'inherit',
  env: {
    ...process.env,
    BENCH_PINNED: tasksetPath ? '1' : '0',
    BENCH_PRIORITY: canRaisePriority ? `nice ${niceness}` : 'normal (could not raise it)',
  },
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal))
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
