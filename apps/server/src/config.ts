import { existsSync, readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { parseTrustedProxies } from '@collab/server'
import { z } from 'zod'
import { type ServerConfig, type Setting, settings } from './settings.js'

export { helpText, type ServerConfig } from './settings.js'

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], { message: 'must be true or false' })
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v))
const positiveInt = (what: string) =>
  z.coerce.number({ message: 'must be a number' }).int('must be a whole number').positive(`must be a positive ${what}`)
const commaList = (value: string) =>
  value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
/** A host name (`collab.example.com`), a domain with its subdomains (`.example.com`), or `*`. */
const hostEntry = /^\*$|^\.?[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/i
const milliseconds = (atLeast: number) =>
  z.coerce
    .number({ message: 'must be a number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .min(atLeast, `must be at least ${atLeast} (milliseconds)`)

const configSchema = z
  .object({
    host: z.string().min(1, 'must not be empty'),
    port: z.coerce
      .number({ message: 'must be a number' })
      .int('must be a whole number')
      .min(0, 'must be between 0 and 65535 (0 picks a free port)')
      .max(65535, 'must be between 0 and 65535 (0 picks a free port)'),
    dataDir: z.string().min(1, 'must not be empty'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'must be one of fatal, error, warn, info, debug, trace, silent',
    }),
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
    allowedOrigins: z.string().transform(commaList).optional(),
    allowedHosts: z
      .string()
      .optional()
      .transform((value, ctx) => {
        const entries = value === undefined ? [] : commaList(value)
        const bad = entries.find((entry) => !hostEntry.test(entry) && isIP(entry) === 0)
        if (bad !== undefined) {
          ctx.addIssue({
            code: 'custom',
            message: `${JSON.stringify(bad)} is not a host name: give names without port, like collab.example.com, .example.com for a domain and its subdomains, or * for any host`,
          })
          return z.NEVER
        }
        return entries
      }),
    trustProxy: z
      .string()
      .optional()
      .transform((value, ctx) => {
        if (value === undefined) return []
        const word = value.trim().toLowerCase()
        // The setting used to be a boolean that believed X-Forwarded-For from anyone who could reach the port.
        if (['true', '1', 'yes', 'on'].includes(word)) {
          ctx.addIssue({
            code: 'custom',
            message:
              'no longer takes true: list the addresses or CIDR ranges of the proxies in front of the server ' +
              '(127.0.0.1 for a proxy on this machine, 10.0.0.0/8 for a private network); ' +
              'X-Forwarded-For from any other peer is ignored',
          })
          return z.NEVER
        }
        if (['false', '0', 'no', 'off'].includes(word)) return []
        const entries = commaList(value)
        try {
          parseTrustedProxies(entries)
        } catch (err) {
          if (!(err instanceof RangeError)) throw err
          ctx.addIssue({ code: 'custom', message: err.message })
          return z.NEVER
        }
        return entries
      }),
    maxTokenLifetime: z.coerce
      .number({ message: 'must be a number of seconds' })
      .int('must be a whole number of seconds')
      .min(0, 'must be 0 (no maximum) or more seconds'),
    maxMessageBytes: positiveInt('number of bytes'),
    maxBodyBytes: positiveInt('number of bytes'),
    messagesPerSecond: positiveInt('rate'),
    bytesPerSecond: positiveInt('rate'),
    connectionsPerAddress: positiveInt('count'),
    pingIntervalMs: milliseconds(100),
    connectionTimeoutMs: milliseconds(100),
    roomGraceMs: milliseconds(0),
    metricsToken: z.string().min(16, 'must be at least 16 characters (use a long random string)').optional(),
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
    redisUrl: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional(),
  })
  .refine((c) => !(c.redisUrl && !c.databaseUrl), {
    message: 'needs --database-url / DATABASE_URL: instances relaying through Redis must share one PostgreSQL store',
    path: ['redisUrl'],
  })
  .refine((c) => !(c.authSecret && c.authPublicKey), {
    message: 'set either a secret or a public key, not both',
    path: ['authSecret'],
  })
  .refine((c) => !(c.devTokens && c.authPublicKey), {
    message: 'development tokens are signed with a secret; they cannot be used with a public key',
    path: ['devTokens'],
  })
  .refine((c) => c.connectionTimeoutMs > c.pingIntervalMs, {
    // Otherwise a healthy client is terminated between two pings.
    message: 'must be longer than the ping interval (--ping-interval-ms)',
    path: ['connectionTimeoutMs'],
  })

/** What parsing the command line gave: a config, a request for help, or an error message for the user. */
export type ConfigResult =
  | { kind: 'config'; config: ServerConfig }
  | { kind: 'help' }
  | { kind: 'error'; message: string }

/** A raw setting value and where it came from, for error messages. */
interface RawValue {
  value: string
  from: string
}

const footer = 'Run with --help for the settings.'

/**
 * Reads the settings from `argv` (without node and the script), `env` and the optional JSON config file
 * (`--config` or `CONFIG_FILE`), and validates them. A flag wins over the environment, which wins over the file,
 * which wins over the default. An empty value counts as unset.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ConfigResult {
  let values: Record<string, string | boolean | undefined>
  try {
    const options = Object.fromEntries(
      settings.map((s) => [s.flag, { type: s.boolean ? ('boolean' as const) : ('string' as const) }]),
    )
    values = parseArgs({
      args: attachDashValues(argv),
      options: { ...options, config: { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
    }).values
  } catch (err) {
    return { kind: 'error', message: `${err instanceof Error ? err.message : String(err)}\n${footer}` }
  }
  if (values.help) return { kind: 'help' }

  const configPath = nonEmpty(values.config) ?? nonEmpty(env.CONFIG_FILE)
  const file = configPath === undefined ? { values: new Map<string, RawValue>(), errors: [] } : readFile(configPath)
  if (file.errors.length > 0) {
    return { kind: 'error', message: `Invalid configuration:\n${file.errors.join('\n')}\n${footer}` }
  }

  const raw: Record<string, RawValue | undefined> = {}
  for (const s of settings) {
    const flag = values[s.flag]
    const fromFlag = typeof flag === 'boolean' ? String(flag) : nonEmpty(flag)
    const fromEnv = nonEmpty(env[s.env])
    raw[s.key] =
      fromFlag !== undefined
        ? { value: fromFlag, from: `--${s.flag}` }
        : fromEnv !== undefined
          ? { value: fromEnv, from: s.env }
          : (file.values.get(s.key) ?? (s.fallback === undefined ? undefined : { value: s.fallback, from: 'default' }))
  }
  const parsed = configSchema.safeParse(Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v?.value])))
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0])
      const setting = settings.find((s) => s.key === key)
      if (!setting) return `  ${key}: ${issue.message}`
      const given = raw[key]
      const shown = given === undefined ? '(unset)' : setting.secret ? '(hidden)' : JSON.stringify(given.value)
      const from = given === undefined || given.from === 'default' ? '' : ` (from ${given.from})`
      return `  --${setting.flag} / ${setting.env} = ${shown}: ${issue.message}${from}`
    })
    return { kind: 'error', message: `Invalid configuration:\n${lines.join('\n')}\n${footer}` }
  }
  return { kind: 'config', config: parsed.data }
}

/**
 * Joins `--flag value` into `--flag=value` when the value starts with a dash but is not an option itself:
 * parseArgs refuses such values as ambiguous, and PEM text (`-----BEGIN...`) or a negative number is meant.
 */
function attachDashValues(argv: readonly string[]): string[] {
  const takesValue = new Set([...settings.filter((s) => !s.boolean).map((s) => `--${s.flag}`), '--config'])
  const options = new Set([...settings.map((s) => `--${s.flag}`), '--config', '--help'])
  const isOption = (arg: string) => options.has(arg.split('=')[0] as string)
  const args: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const next = argv[i + 1]
    if (takesValue.has(arg) && next?.startsWith('-') && !isOption(next)) {
      args.push(`${arg}=${next}`)
      i++
    } else {
      args.push(arg)
    }
  }
  return args
}

function nonEmpty(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

/**
 * Reads a JSON config file: an object whose keys are the settings' camelCase names (`dataDir`, `pingIntervalMs`),
 * with string, number or boolean values (list settings, such as `allowedOrigins`, may also be arrays of strings).
 */
function readFile(path: string): { values: Map<string, RawValue>; errors: string[] } {
  const values = new Map<string, RawValue>()
  const errors: string[] = []
  const where = `--config / CONFIG_FILE = ${JSON.stringify(path)}`
  let json: unknown
  try {
    json = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    const reason = err instanceof SyntaxError ? `is not valid JSON (${err.message})` : `cannot be read (${String(err)})`
    return { values, errors: [`  ${where}: the file ${reason}`] }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { values, errors: [`  ${where}: the file must hold one JSON object of settings, like { "port": 8080 }`] }
  }
  for (const [key, value] of Object.entries(json)) {
    const setting = settings.find((s) => s.key === key)
    if (!setting) {
      errors.push(`  ${JSON.stringify(key)} in ${path}: ${unknownKeyHint(key)}`)
      continue
    }
    const text = fileValue(setting, value)
    if (text === null) {
      const allowed = setting.list ? 'a string or an array of strings' : 'a string or a number'
      errors.push(
        `  ${JSON.stringify(key)} in ${path}: must be ${setting.boolean ? 'true or false' : allowed}, not ${JSON.stringify(value)}`,
      )
      continue
    }
    // A relative path in a file means relative to the file, wherever the server is started from.
    const resolved = setting.path && !text.includes('-----BEGIN') ? resolve(dirname(resolve(path)), text) : text
    values.set(setting.key, { value: resolved, from: `"${key}" in ${path}` })
  }
  return { values, errors }
}

function fileValue(setting: Setting, value: unknown): string | null {
  // `trustProxy` used to be a boolean: pass it on, so that validation says what to write instead.
  if (typeof value === 'boolean') return setting.boolean || setting.key === 'trustProxy' ? String(value) : null
  if (typeof value === 'number') return setting.boolean || !Number.isFinite(value) ? null : String(value)
  if (typeof value === 'string') return value
  if (setting.list && Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    return value.join(',')
  }
  return null
}

function unknownKeyHint(key: string): string {
  const normalized = key.toLowerCase().replace(/[-_]/g, '')
  const match = settings.find((s) => s.key.toLowerCase() === normalized || s.flag.replace(/-/g, '') === normalized)
  if (match) return `unknown setting; the file uses camelCase keys: did you mean "${match.key}"?`
  return `unknown setting; the keys are ${settings.map((s) => s.key).join(', ')}`
}
