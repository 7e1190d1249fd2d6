import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { listeningUrl, Teardown, waitFor } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { helpText, loadConfig, type ServerConfig } from '../src/config.js'
import { settings } from '../src/settings.js'

const cliPath = resolve(dirname(fileURLToPath(import.meta.url)), '../dist/cli.js')

const teardown = new Teardown()
afterEach(() => teardown.run())

/** Writes `content` (JSON unless a string) as a config file in a fresh directory; returns its path. */
function configFile(content: unknown, name = 'collab.json'): string {
  const dir = mkdtempSync(join(tmpdir(), 'collab-config-test-'))
  teardown.defer(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, name)
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
  return path
}

function config(argv: string[], env: NodeJS.ProcessEnv = {}): ServerConfig {
  const result = loadConfig(argv, env)
  if (result.kind !== 'config') throw new Error(`expected a config, got ${JSON.stringify(result)}`)
  return result.config
}

function error(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  const result = loadConfig(argv, env)
  if (result.kind !== 'error') throw new Error(`expected an error, got ${JSON.stringify(result)}`)
  return result.message
}

describe('configuration', () => {
  it('has defaults for everything, including the engine timings and the body limit', () => {
    expect(config([])).toMatchObject({
      host: 'localhost',
      port: 1234,
      dataDir: './data',
      logLevel: 'info',
      devTokens: false,
      trustProxy: [],
      allowedHosts: [],
      maxTokenLifetime: 24 * 60 * 60,
      pingIntervalMs: 2_500,
      connectionTimeoutMs: 6_000,
      roomGraceMs: 10_000,
      maxBodyBytes: 16 * 1024 * 1024,
      maxMessageBytes: 16 * 1024 * 1024,
    })
    expect(config([]).metricsToken).toBeUndefined()
  })

  it('reads a JSON file by camelCase keys; flags beat the environment, which beats the file', () => {
    const path = configFile({
      port: 8080,
      host: 'file-host',
      logLevel: 'warn',
      pingIntervalMs: 1000,
      connectionTimeoutMs: 3000,
      roomGraceMs: 0,
      maxBodyBytes: 4096,
      trustProxy: ['10.0.0.2', '172.16.0.0/12'],
      allowedHosts: 'collab.example.com, .team.example',
      allowedOrigins: ['https://a.example', 'https://b.example'],
      metricsToken: 'file-metrics-token-0123',
    })
    expect(config(['--config', path])).toMatchObject({
      port: 8080,
      host: 'file-host',
      logLevel: 'warn',
      pingIntervalMs: 1000,
      connectionTimeoutMs: 3000,
      roomGraceMs: 0,
      maxBodyBytes: 4096,
      trustProxy: ['10.0.0.2', '172.16.0.0/12'],
      allowedHosts: ['collab.example.com', '.team.example'],
      allowedOrigins: ['https://a.example', 'https://b.example'],
      metricsToken: 'file-metrics-token-0123',
    })
    expect(config([], { CONFIG_FILE: path }).port).toBe(8080)
    expect(config(['--config', path], { PORT: '9090', TRUST_PROXY: 'false' })).toMatchObject({
      port: 9090,
      trustProxy: [],
      host: 'file-host',
    })
    expect(config(['--config', path, '--port', '7070'], { PORT: '9090' }).port).toBe(7070)
    // An empty variable counts as unset, so the file's value stays.
    expect(config(['--config', path], { PORT: '' }).port).toBe(8080)
    // --config beats CONFIG_FILE.
    const other = configFile({ port: 6060 })
    expect(config(['--config', other], { CONFIG_FILE: path }).port).toBe(6060)
  })

  it("resolves relative paths in the file against the file's directory", () => {
    const path = configFile({ dataDir: 'documents', webRoot: '../web' })
    expect(config(['--config', path])).toMatchObject({
      dataDir: join(dirname(path), 'documents'),
      webRoot: resolve(dirname(path), '../web'),
    })
    // Flags and the environment stay relative to where the server starts, as before.
    expect(config(['--config', path, '--data', 'here']).dataDir).toBe('here')
  })

  it('names the setting, where its value came from and what is allowed', () => {
    const path = configFile({ port: 'eighty', logLevel: 'loud' })
    const message = error(['--config', path])
    expect(message).toContain(`--port / PORT = "eighty": must be a number (from "port" in ${path})`)
    expect(message).toMatch(/--log-level \/ LOG_LEVEL = "loud": must be one of fatal, error, warn, info/)
    expect(message).toMatch(/--help/)
    expect(error([], { PING_INTERVAL_MS: '6000' })).toContain(
      '--connection-timeout-ms / CONNECTION_TIMEOUT_MS = "6000": must be longer than the ping interval',
    )
    expect(error(['--room-grace-ms', '-1'])).toMatch(
      /ROOM_GRACE_MS = "-1": must be at least 0.*\(from --room-grace-ms\)/,
    )
    expect(error([], { MAX_BODY_BYTES: '0' })).toMatch(/MAX_BODY_BYTES = "0": must be a positive number of bytes/)
  })

  it('refuses unknown keys, wrong types and files that are not JSON objects', () => {
    expect(error(['--config', configFile({ 'log-level': 'debug' })])).toMatch(
      /"log-level" in .*: unknown setting; the file uses camelCase keys: did you mean "logLevel"\?/,
    )
    expect(error(['--config', configFile({ colour: 'blue' })])).toMatch(/"colour" in .*: unknown setting; the keys are/)
    expect(error(['--config', configFile({ trustProxy: 'maybe' })])).toMatch(
      /TRUST_PROXY = "maybe": Invalid trusted proxy "maybe": expected an IP address or a CIDR range/,
    )
    expect(error(['--config', configFile({ devTokens: 1 })])).toMatch(/"devTokens" in .*: must be true or false/)
    expect(error(['--config', configFile({ port: [1] })])).toMatch(/"port" in .*: must be a string or a number/)
    expect(error(['--config', configFile('{ "port": 80, }')])).toMatch(/is not valid JSON/)
    expect(error(['--config', configFile('[1, 2]')])).toMatch(/one JSON object of settings/)
    expect(error(['--config', '/nonexistent/collab.json'])).toMatch(
      /--config \/ CONFIG_FILE = "\/nonexistent\/collab.json": the file cannot be read/,
    )
  })

  it('[PX1] TRUST_PROXY lists addresses and CIDR ranges; the old `true` says what to write instead', () => {
    expect(config([], { TRUST_PROXY: '127.0.0.1, ::1,10.0.0.0/8' }).trustProxy).toEqual([
      '127.0.0.1',
      '::1',
      '10.0.0.0/8',
    ])
    expect(config(['--trust-proxy', '192.168.0.0/16']).trustProxy).toEqual(['192.168.0.0/16'])
    for (const off of ['false', '0', 'off']) expect(config([], { TRUST_PROXY: off }).trustProxy).toEqual([])
    const advice = /no longer takes true: list the addresses or CIDR ranges of the proxies/
    expect(error([], { TRUST_PROXY: 'true' })).toMatch(/--trust-proxy \/ TRUST_PROXY = "true": no longer takes true/)
    expect(error([], { TRUST_PROXY: 'true' })).toMatch(advice)
    expect(error(['--config', configFile({ trustProxy: true })])).toMatch(advice)
    expect(config(['--config', configFile({ trustProxy: false })]).trustProxy).toEqual([])
    expect(error([], { TRUST_PROXY: '10.0.0.1,nginx' })).toMatch(/Invalid trusted proxy "nginx"/)
    expect(error([], { TRUST_PROXY: '10.0.0.0/40' })).toMatch(/Invalid trusted proxy "10.0.0.0\/40"/)
  })

  it('[SD1] ALLOWED_HOSTS takes names, domains with a leading dot and *, not URLs or ports', () => {
    expect(config([], { ALLOWED_HOSTS: 'collab.example.com,.example.org' }).allowedHosts).toEqual([
      'collab.example.com',
      '.example.org',
    ])
    expect(config(['--allowed-hosts', '*']).allowedHosts).toEqual(['*'])
    for (const bad of ['https://collab.example.com', 'collab.example.com:8080', 'a b']) {
      expect(error([], { ALLOWED_HOSTS: bad }), bad).toMatch(/ALLOWED_HOSTS = .*is not a host name/)
    }
  })

  it('[TK1] MAX_TOKEN_LIFETIME is whole seconds, 0 or more', () => {
    expect(config([], { MAX_TOKEN_LIFETIME: '3600' }).maxTokenLifetime).toBe(3600)
    expect(config(['--max-token-lifetime', '0']).maxTokenLifetime).toBe(0)
    expect(error([], { MAX_TOKEN_LIFETIME: '-1' })).toMatch(/MAX_TOKEN_LIFETIME = "-1": must be 0 \(no maximum\)/)
    expect(error([], { MAX_TOKEN_LIFETIME: '1h' })).toMatch(/MAX_TOKEN_LIFETIME = "1h": must be a number of seconds/)
  })

  it('never prints secrets back, wherever they came from', () => {
    const short = 'too-short-secret'
    const message = error(['--config', configFile({ authSecret: short, metricsToken: 'tiny' })])
    expect(message).toMatch(/AUTH_SECRET = \(hidden\): must be at least 32 characters/)
    expect(message).toMatch(/METRICS_TOKEN = \(hidden\): must be at least 16 characters/)
    expect(message).not.toContain(short)
    expect(message).not.toContain('tiny')
  })

  it('--help lists every setting with its flag, variable and file key', () => {
    const help = helpText()
    for (const setting of settings) {
      expect(help).toContain(`--${setting.flag}`)
      expect(help).toContain(setting.env)
      expect(help).toContain(setting.key)
    }
    for (const text of ['--config', 'CONFIG_FILE', '--help', 'wins over the environment']) expect(help).toContain(text)
    expect(loadConfig(['--help'], {})).toEqual({ kind: 'help' })
  })

  it('the CLI starts from a config file, and exits with 2 naming the problem in one', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'collab-config-cli-'))
    teardown.defer(() => rmSync(dataDir, { recursive: true, force: true }))
    const run = (args: string[]) => {
      const inherited = { ...process.env }
      for (const s of settings) delete inherited[s.env]
      delete inherited.CONFIG_FILE
      const child = spawn(process.execPath, [cliPath, ...args], { env: inherited, stdio: ['ignore', 'pipe', 'pipe'] })
      teardown.defer(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      })
      let output = ''
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString()
      })
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString()
      })
      const exited = new Promise<number | null>((resolvePromise) => child.once('exit', resolvePromise))
      return { child, output: () => output, exited }
    }

    const bad = run(['--config', configFile({ port: 70000 })])
    expect(await bad.exited).toBe(2)
    expect(bad.output()).toMatch(/--port \/ PORT = "70000": must be between 0 and 65535/)

    const good = run(['--config', configFile({ port: 0, host: '127.0.0.1', dataDir, logLevel: 'warn' })])
    let url: string | undefined
    await waitFor(
      () => `the listening line (output: ${good.output()})`,
      () => {
        url = listeningUrl(good.output())
        return url !== undefined || good.child.exitCode !== null
      },
      10_000,
      20,
    )
    // The host from the file, 127.0.0.1, rather than the default localhost.
    expect(url, good.output()).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect((await fetch(`${url}/readyz`)).status).toBe(200)
    good.child.kill('SIGTERM')
    expect(await good.exited).toBe(0)
  })
})
