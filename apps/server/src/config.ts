import { existsSync, readFileSync } from 'node:fs'
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
  authSecret?: string | undefined
  /** PEM text of the public key that verifies tokens. */
  authPublicKey?: string | undefined
  authIssuer?: string | undefined
  authAudience?: string | undefined
  devTokens: boolean
  allowedOrigins?: string[] | undefined
  trustProxy: boolean
  maxMessageBytes: number
  messagesPerSecond: number
  bytesPerSecond: number
  connectionsPerAddress: number
}

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], { message: 'must be true or false' })
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v))
const positiveInt = (what: string) =>
  z.coerce.number({ message: 'must be a number' }).int('must be a whole number').positive(`must be a positive ${what}`)

const configSchema = z
  .object({
    host: z.string().min(1, 'must not be empty'),
    port: z.coerce
      .number({ message: 'must be a number' })
      .int('must be a whole number')
      .min(0, 'must be between 0 and 65535 (0 picks a free port)')
      .max(65535, 'must be between 0 and 65535 (0 picks a free port)'),
    dataDir: z.string().min(1, 'must not be empty'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    webRoot: z.string().min(1).optional(),
    authSecret: z.string().min(32, 'must be at least 32 characters (use a long random string)').optional(),
    authPublicKey: z
      .string()
      .transform((value, ctx) => {
        const pem = value.includes('-----BEGIN') ? value : existsSync(value) ? readFileSync(value, 'utf8') : null
        if (pem === null || !pem.includes('-----BEGIN')) {
          ctx.addIssue({ code: 'custom', message: 'must be PEM text or the path of a PEM file' })
          return z.NEVER
        }
        return pem
      })
      .optional(),
    authIssuer: z.string().min(1).optional(),
    authAudience: z.string().min(1).optional(),
    devTokens: bool,
    allowedOrigins: z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((origin) => origin.trim())
          .filter((origin) => origin !== ''),
      )
      .optional(),
    trustProxy: bool,
    maxMessageBytes: positiveInt('number of bytes'),
    messagesPerSecond: positiveInt('rate'),
    bytesPerSecond: positiveInt('rate'),
    connectionsPerAddress: positiveInt('count'),
  })
  .refine((c) => !(c.authSecret && c.authPublicKey), {
    message: 'set either a secret or a public key, not both',
    path: ['authSecret'],
  })
  .refine((c) => !(c.devTokens && c.authPublicKey), {
    message: 'development tokens are signed with a secret; they cannot be used with a public key',
    path: ['devTokens'],
  })

/** One documented setting: its flag, environment variable and default. */
interface Setting {
  key: keyof ServerConfig
  flag: string
  env: string
  fallback: string | undefined
  help: string
  /** A flag that takes no value (`--dev-tokens`); its environment variable takes true/false. */
  boolean?: true
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
  {
    key: 'authSecret',
    flag: 'auth-secret',
    env: 'AUTH_SECRET',
    fallback: undefined,
    help: 'shared secret verifying HS256 tokens (at least 32 characters); turns authentication on',
  },
  {
    key: 'authPublicKey',
    flag: 'auth-public-key',
    env: 'AUTH_PUBLIC_KEY',
    fallback: undefined,
    help: 'PEM public key (text or file path) verifying RS/PS/ES/EdDSA tokens; turns authentication on',
  },
  { key: 'authIssuer', flag: 'auth-issuer', env: 'AUTH_ISSUER', fallback: undefined, help: 'required `iss` claim' },
  {
    key: 'authAudience',
    flag: 'auth-audience',
    env: 'AUTH_AUDIENCE',
    fallback: undefined,
    help: 'required `aud` claim',
  },
  {
    key: 'devTokens',
    flag: 'dev-tokens',
    env: 'DEV_TOKENS',
    fallback: 'false',
    boolean: true,
    help: 'hand out tokens to anyone at /api/dev-token (local development only; random secret if none is set)',
  },
  {
    key: 'allowedOrigins',
    flag: 'allowed-origins',
    env: 'ALLOWED_ORIGINS',
    fallback: undefined,
    help: 'comma-separated browser origins allowed to connect (default: any)',
  },
  {
    key: 'trustProxy',
    flag: 'trust-proxy',
    env: 'TRUST_PROXY',
    fallback: 'false',
    boolean: true,
    help: 'take client addresses from X-Forwarded-For (behind a reverse proxy)',
  },
  {
    key: 'maxMessageBytes',
    flag: 'max-message-bytes',
    env: 'MAX_MESSAGE_BYTES',
    fallback: String(16 * 1024 * 1024),
    help: 'largest WebSocket message; larger ones close with 1009',
  },
  {
    key: 'messagesPerSecond',
    flag: 'messages-per-second',
    env: 'MESSAGES_PER_SECOND',
    fallback: '300',
    help: 'sustained messages per connection (bursts of 10x); more closes with 4429',
  },
  {
    key: 'bytesPerSecond',
    flag: 'bytes-per-second',
    env: 'BYTES_PER_SECOND',
    fallback: String(4 * 1024 * 1024),
    help: 'sustained bytes per connection (bursts of 8x); more closes with 4429',
  },
  {
    key: 'connectionsPerAddress',
    flag: 'connections-per-address',
    env: 'CONNECTIONS_PER_ADDRESS',
    fallback: '64',
    help: 'open connections per client address; more close with 4429',
  },
]

/** The text of `--help`. */
export function helpText(): string {
  const rows = settings.map(
    (s) =>
      `  --${s.flag.padEnd(24)} ${s.env.padEnd(24)} ${s.help}${s.fallback === undefined ? '' : ` (default ${s.fallback})`}`,
  )
  return [
    'Usage: npm start -- [options]     (or: collab-server [options])',
    '',
    'Serves collaborative documents over WebSocket at ws://HOST:PORT/<document> and the web app at http://HOST:PORT/.',
    'Each option can also be set by the environment variable beside it; a flag wins over the environment.',
    '',
    `  ${'flag'.padEnd(26)} ${'env'.padEnd(24)} meaning`,
    ...rows,
    '  --help                     print this text',
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
    const options = Object.fromEntries(
      settings.map((s) => [s.flag, { type: s.boolean ? ('boolean' as const) : ('string' as const) }]),
    )
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
    raw[s.key] = typeof flag === 'boolean' ? String(flag) : typeof flag === 'string' ? flag : (env[s.env] ?? s.fallback)
    if (raw[s.key] === '') raw[s.key] = s.fallback
  }
  const parsed = configSchema.safeParse(raw)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const setting = settings.find((s) => s.key === issue.path[0])
      const name = setting ? `--${setting.flag} / ${setting.env}` : String(issue.path[0])
      const shown = setting?.key === 'authSecret' ? '(hidden)' : JSON.stringify(raw[String(issue.path[0])])
      return `  ${name} = ${shown}: ${issue.message}`
    })
    return { kind: 'error', message: `Invalid configuration:\n${lines.join('\n')}\nRun with --help for the settings.` }
  }
  return { kind: 'config', config: parsed.data }
}
