import { readFileSync, rmSync } from 'node:fs'

/** Last-resort cleanups, run synchronously when the process exits without having run the regular ones. */
const atExit = new Set<() => void>()
let hooked = false

/**
 * Registers `cleanup` to run if the process exits (or is interrupted) first; returns a function that unregisters
 * it. Cleanups here must be synchronous: nothing asynchronous runs during `exit`.
 */
export function onExit(cleanup: () => void): () => void {
  if (!hooked) {
    hooked = true
    process.once('exit', runExitCleanups)
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        runExitCleanups()
        process.exit(130)
      })
    }
  }
  atExit.add(cleanup)
  return () => atExit.delete(cleanup)
}

function runExitCleanups(): void {
  for (const cleanup of [...atExit]) {
    atExit.delete(cleanup)
    try {
      cleanup()
    } catch (err) {
      console.error('test service cleanup failed:', err)
    }
  }
}

/** Sends a signal to a process that may already be gone; whether it was still there. */
export function signalIfAlive(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw err
  }
}

/**
 * Whether a process is still running. A daemon that exited stays a zombie until init reaps it, which some
 * container inits do only every second or two; a zombie counts as gone.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    // No /proc (not Linux) or the process vanished just now.
    return !(process.platform === 'linux')
  }
}

/** Removes a directory tree, ignoring one that is already gone. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
