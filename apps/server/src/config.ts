import { parseArgs } from 'node:util'
import { z } from 'zod'

/** Every setting of the server, after flags and environment are merged and validated. */
export interface ServerConfig {
  host: string
  port: number
  dataDir: string
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  /** Directory of the built web app; served at `/` when it exists. */
  webRoot?: string | undefined
}

const configSchema = z.object({
  host: z.string().min(1, 'must not be empty'),
  port: z.coerce
    .number({ message: 'must be a number' })
    .int('must be a whole number')
    .min(0, 'must be between 0 and 65535 (0 picks a free port)')
    .max(65535, 'must be between 0 and 65535 (0 picks a free port)'),
  dataDir: z.string().min(1, 'must not be empty'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  webRoot: z.string().min(1).optional(),
})

/** One documented setting: its flag, environment variable and default. */
interface Setting {
  key: keyof ServerConfig
  flag: string
  env: string
  fallback: string | undefined
  help: string
}

const settings: Setting[] = [
  { key: 'host', flag: 'host', env: 'HOST', fallback: 'localhost', help: 'interface to listen on' },
  { key: 'port', flag: 'port', env: 'PORT', fallback: '1234', help: 'TCP port; 0 picks a free one' },
  { key: 'dataDir', flag: 'data', env: 'DATA_DIR', fallback: './data', help: 'LevelDB directory for documents' },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'LOG_LEVEL',
    fallback: 'info',
    help: 'fatal, error, warn, info, debug, trace or silent',
  },
  {
    key: 'webRoot',
    flag: 'web-root',
    env: 'WEB_ROOT',
    fallback: undefined,
    help: 'directory of the built web app (default: apps/web/dist of this checkout)',
  },
]

/** The text of `--help`. */
export function helpText(): string {
  const rows = settings.map(
    (s) =>
      `  --${s.flag.padEnd(10)} ${s.env.padEnd(10)} ${s.help}${s.fallback === undefined ? '' : ` (default ${s.fallback})`}`,
  )
  return [
    'Usage: npm start -- [options]     (or: collab-server [options])',
    '',
    'Serves collaborative documents over WebSocket at ws://HOST:PORT/<document> and the web app at http://HOST:PORT/.',
    'Each option can also be set by the environment variable beside it; a flag wins over the environment.',
    '',
    '  flag         env        meaning',
    ...rows,
    '  --help                  print this text',
  ].join('\n')
}

/** What parsing the command line gave: a config, a request for help, or an error message for the user. */
export type ConfigResult =
  | { kind: 'config'; config: ServerConfig }
  | { kind: 'help' }
  | { kind: 'error'; message: string }

/** Reads the settings from `argv` (without node and the script) and `env`, and validates them. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ConfigResult {
  let values: Record<string, string | boolean | undefined>
  try {
    const options = Object.fromEntries(settings.map((s) => [s.flag, { type: 'string' as const }]))
    values = parseArgs({ args: [...argv], options: { ...options, help: { type: 'boolean' } }, strict: true }).values
  } catch (err) {
    return {
      kind: 'error',
      message: `${err instanceof Error ? err.message : String(err)}\nRun with --help for the settings.`,
    }
  }
  if (values.help) return { kind: 'help' }
  const raw: Record<string, string | undefined> = {}
  for (const s of settings) {
    const flag = values[s.flag]
    raw[s.key] = typeof flag === 'string' ? flag : (env[s.env] ?? s.fallback)
  }
  const parsed = configSchema.safeParse(raw)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const setting = settings.find((s) => s.key === issue.path[0])
      const name = setting ? `--${setting.flag} / ${setting.env}` : String(issue.path[0])
      return `  ${name} = ${JSON.stringify(raw[String(issue.path[0])])}: ${issue.message}`
    })
    return { kind: 'error', message: `Invalid configuration:\n${lines.join('\n')}\nRun with --help for the settings.` }
  }
  return { kind: 'config', config: parsed.data }
}
