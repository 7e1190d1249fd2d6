/** Every setting of the server, after flags, environment and config file are merged and validated. */
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
  /** Host names the `Host` header may carry besides loopback names and IP literals; `*` turns the check off. */
  allowedHosts: string[]
  /** Addresses and CIDR ranges of the proxies whose `X-Forwarded-For` is believed; empty: none. */
  trustProxy: string[]
  /** Longest token lifetime accepted, in seconds; 0: no maximum, and tokens without `exp` are accepted. */
  maxTokenLifetime: number
  maxMessageBytes: number
  messagesPerSecond: number
  bytesPerSecond: number
  connectionsPerAddress: number
  /** How often the server pings every WebSocket. */
  pingIntervalMs: number
  /** A WebSocket silent for longer than this is terminated. */
  connectionTimeoutMs: number
  /** How long a document without connections stays in memory. */
  roomGraceMs: number
  /** Largest HTTP request body (an update posted to the API); larger ones get 413. */
  maxBodyBytes: number
  /** When set, `GET /metrics` needs `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string | undefined
  /** PostgreSQL store shared by every instance, instead of the LevelDB directory. */
  databaseUrl?: string | undefined
  /** Redis relaying updates and presence between instances. */
  redisUrl?: string | undefined
}

/** One documented setting: its flag, environment variable, config file key (its `key`) and default. */
export interface Setting {
  key: keyof ServerConfig
  flag: string
  env: string
  fallback: string | undefined
  help: string
  /** A flag that takes no value (`--dev-tokens`); its environment variable and file key take true/false. */
  boolean?: true
  /** A comma-separated list; the config file may also give an array of strings. */
  list?: true
  /** Never printed back in error messages. */
  secret?: true
  /** A path, resolved against the config file's directory when it comes from the file. */
  path?: true
}

const mib = 1024 * 1024

/** The settings, in the order `--help` lists them. The config file uses `key` as its JSON key. */
export const settings: readonly Setting[] = [
  { key: 'host', flag: 'host', env: 'HOST', fallback: 'localhost', help: 'interface to listen on' },
  { key: 'port', flag: 'port', env: 'PORT', fallback: '1234', help: 'TCP port; 0 picks a free one' },
  {
    key: 'dataDir',
    flag: 'data',
    env: 'DATA_DIR',
    fallback: './data',
    path: true,
    help: 'LevelDB directory for documents',
  },
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
    path: true,
    help: 'directory of the built web app (default: apps/web/dist of this checkout)',
  },
  {
    key: 'authSecret',
    flag: 'auth-secret',
    env: 'AUTH_SECRET',
    fallback: undefined,
    secret: true,
    help: 'shared secret verifying HS256 tokens (at least 32 characters); turns authentication on',
  },
  {
    key: 'authPublicKey',
    flag: 'auth-public-key',
    env: 'AUTH_PUBLIC_KEY',
    fallback: undefined,
    path: true,
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
    list: true,
    help: 'comma-separated browser origins allowed to connect (default: the same origin and loopback origins)',
  },
  {
    key: 'allowedHosts',
    flag: 'allowed-hosts',
    env: 'ALLOWED_HOSTS',
    fallback: undefined,
    list: true,
    help:
      'comma-separated names this server is reached by (Host header), besides localhost and IP addresses; ' +
      '.example.com also allows its subdomains; * allows any (unsafe: DNS rebinding)',
  },
  {
    key: 'trustProxy',
    flag: 'trust-proxy',
    env: 'TRUST_PROXY',
    fallback: undefined,
    list: true,
    help: 'comma-separated addresses or CIDR ranges of the reverse proxies whose X-Forwarded-For is believed (default: none)',
  },
  {
    key: 'maxTokenLifetime',
    flag: 'max-token-lifetime',
    env: 'MAX_TOKEN_LIFETIME',
    fallback: String(24 * 60 * 60),
    help: 'longest token lifetime accepted (exp - iat), in seconds; tokens without exp are refused; 0 = no maximum (unsafe)',
  },
  {
    key: 'maxMessageBytes',
    flag: 'max-message-bytes',
    env: 'MAX_MESSAGE_BYTES',
    fallback: String(16 * mib),
    help: 'largest WebSocket message; larger ones close with 1009',
  },
  {
    key: 'maxBodyBytes',
    flag: 'max-body-bytes',
    env: 'MAX_BODY_BYTES',
    fallback: String(16 * mib),
    help: 'largest HTTP request body (POST /api/docs/<name>/updates); larger ones get 413',
  },
  {
    key: 'messagesPerSecond',
    flag: 'messages-per-second',
    env: 'MESSAGES_PER_SECOND',
    fallback: '20000',
    help: 'sustained messages per connection (bursts of a second of messages); more is slowed down, not closed',
  },
  {
    key: 'bytesPerSecond',
    flag: 'bytes-per-second',
    env: 'BYTES_PER_SECOND',
    fallback: String(4 * mib),
    help: 'sustained bytes per connection (bursts of 8x); more is slowed down, not closed',
  },
  {
    key: 'connectionsPerAddress',
    flag: 'connections-per-address',
    env: 'CONNECTIONS_PER_ADDRESS',
    fallback: '64',
    help: 'open connections per client address; more close with 4429',
  },
  {
    key: 'pingIntervalMs',
    flag: 'ping-interval-ms',
    env: 'PING_INTERVAL_MS',
    fallback: '2500',
    help: 'how often every WebSocket is pinged (keep proxy read timeouts well above it)',
  },
  {
    key: 'connectionTimeoutMs',
    flag: 'connection-timeout-ms',
    env: 'CONNECTION_TIMEOUT_MS',
    fallback: '6000',
    help: 'a WebSocket silent this long (no message, no pong) is terminated; more than the ping interval',
  },
  {
    key: 'roomGraceMs',
    flag: 'room-grace-ms',
    env: 'ROOM_GRACE_MS',
    fallback: '10000',
    help: 'how long a document nobody is connected to stays in memory before it is flushed and unloaded',
  },
  {
    key: 'metricsToken',
    flag: 'metrics-token',
    env: 'METRICS_TOKEN',
    fallback: undefined,
    secret: true,
    help: 'when set, GET /metrics needs "Authorization: Bearer <token>" (default: open)',
  },
  {
    key: 'databaseUrl',
    flag: 'database-url',
    env: 'DATABASE_URL',
    fallback: undefined,
    secret: true,
    help: 'PostgreSQL URL: documents are stored there instead of the LevelDB directory (shared by every instance)',
  },
  {
    key: 'redisUrl',
    flag: 'redis-url',
    env: 'REDIS_URL',
    fallback: undefined,
    secret: true,
    help: 'Redis URL: relays updates and presence between several instances (needs --database-url)',
  },
]

/** The text of `--help`. */
export function helpText(): string {
  const rows = settings.map(
    (s) =>
      `  --${s.flag.padEnd(24)} ${s.env.padEnd(24)} ${s.help}${s.fallback === undefined ? '' : ` (default ${s.fallback})`}`,
  )
  const keys = settings.map((s) => s.key)
  return [
    'Usage: npm start -- [options]     (or: collab-server [options])',
    '',
    'Serves collaborative documents over WebSocket at ws://HOST:PORT/<document>, the HTTP API and the web app at',
    'http://HOST:PORT/. Each option can also be set by the environment variable beside it, or by a key of a JSON',
    'config file. A flag wins over the environment, which wins over the file, which wins over the default.',
    '',
    `  ${'flag'.padEnd(26)} ${'env'.padEnd(24)} meaning`,
    `  --${'config <file.json>'.padEnd(24)} ${'CONFIG_FILE'.padEnd(24)} JSON object of settings (keys below)`,
    ...rows,
    '  --help                     print this text',
    '',
    `Config file keys: ${keys.join(', ')}.`,
    'Example: { "port": 8080, "dataDir": "/var/lib/collab", "trustProxy": ["10.0.0.2"], "allowedHosts": ["x.org"] }',
    "Relative paths in the file are resolved against the file's directory. docs/OPERATIONS.md explains each setting.",
  ].join('\n')
}
