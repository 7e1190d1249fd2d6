import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { listeningUrl } from './listening.js'

/** The built CLI of apps/server. */
export const serverCli = join(dirname(fileURLToPath(import.meta.url)), '../../../apps/server/dist/cli.js')

/** The server running as a child process, as operators run it. */
export interface ServerProcess {
  child: ChildProcess
  port: number
  url: string
  wsUrl: string
  /** Every line the server printed so far (JSON log lines). */
  output: string[]
  /** Sends a signal and resolves with the exit code (or the signal that ended it). */
  stop(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals>
}

export interface ServerProcessOptions {
  dataDir: string
  /** 0 (the default) picks a free port. */
  port?: number
  args?: string[]
  env?: Record<string, string>
}

/** Starts `apps/server/dist/cli.js` and resolves once it announced its address (see {@link listeningUrl}). */
export function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [
      serverCli,
      '--host',
      '127.0.0.1',
      '--port',
      String(options.port ?? 0),
      '--data',
      options.dataDir,
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } },
  )
  const output: string[] = []
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  )
  return new Promise((resolve, reject) => {
    const onLine = (line: string) => {
      output.push(line)
      const url = listeningUrl([line])
      if (url === undefined) return
      const port = Number(new URL(url).port)
      resolve({
        child,
        port,
        url,
        wsUrl: url.replace(/^http/, 'ws'),
        output,
        async stop(signal: NodeJS.Signals = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal)
          return exited
        },
      })
    }
    createInterface({ input: child.stdout! }).on('line', onLine)
    createInterface({ input: child.stderr! }).on('line', (line) => output.push(line))
    exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${output.join('\n')}`)))
  })
}
