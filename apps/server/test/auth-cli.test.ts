import { type ChildProcess, spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CollabProvider } from '@collab/provider'
import { listeningUrl, Teardown, waitFor } from '@collab/test-support'
import { SignJWT } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'

// End to end through the real CLI: the JWT hook, the HTTP API and both clients ([AU1]-[AU6]).

const cliPath = resolve(dirname(fileURLToPath(import.meta.url)), '../dist/cli.js')
const secret = 'cli-test-secret-0123456789-abcdefghijklmnop'

/** Cleanup steps, run after each test (`perTest`) or after the file (`perFile`). */
const perTest = new Teardown()
const perFile = new Teardown()
afterEach(() => perTest.run())
afterAll(() => perFile.run())

function tempDir(teardown: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'collab-auth-cli-test-'))
  teardown.defer(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

interface CliProcess {
  child: ChildProcess
  /** Everything the process wrote, stdout and stderr. */
  output(): string
  stderr(): string
  exited: Promise<number | string>
}

/** Settings the environment running the tests might set; the tests give theirs as flags only. */
const settingVariables = [
  'HOST',
  'PORT',
  'DATA_DIR',
  'LOG_LEVEL',
  'WEB_ROOT',
  'AUTH_SECRET',
  'AUTH_PUBLIC_KEY',
  'AUTH_ISSUER',
  'AUTH_AUDIENCE',
  'DEV_TOKENS',
  'ALLOWED_ORIGINS',
  'ALLOWED_HOSTS',
  'TRUST_PROXY',
  'MAX_TOKEN_LIFETIME',
]

function runCli(args: string[], teardown: Teardown, env: Record<string, string> = {}): CliProcess {
  const inherited = { ...process.env }
  for (const name of settingVariables) delete inherited[name]
  const child = spawn(process.execPath, [cliPath, ...args], {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
    stderr += chunk.toString()
  })
  const exited = new Promise<number | string>((resolvePromise) => {
    child.once('exit', (code, signal) => resolvePromise(code ?? signal ?? -1))
  })
  teardown.defer(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  return { child, output: () => output, stderr: () => stderr, exited }
}

/** Starts the CLI on a free port with a fresh data directory; resolves with its base URL once it listens. */
async function startCli(args: string[], teardown: Teardown): Promise<{ cli: CliProcess; url: string }> {
  const cli = runCli(['--port', '0', '--data', tempDir(teardown), '--log-level', 'info', ...args], teardown)
  let url: string | undefined
  await waitFor(
    'the listening line',
    () => {
      url ??= listeningUrl(cli.output())
      return url !== undefined || cli.child.exitCode !== null
    },
    10_000,
  )
  if (url === undefined) throw new Error(`the server exited early: ${cli.output()}`)
  return { cli, url }
}

type Grants = Record<string, 'read' | 'write'>

/** Every token the tests made, to check none reaches the server's output. */
const tokensUsed: string[] = []

async function token(grants: Grants, options: { key?: string; exp?: number; sub?: string } = {}): Promise<string> {
  const jwt = await new SignJWT({ docs: grants })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(options.sub ?? 'tester')
    .setIssuedAt()
    .setExpirationTime(options.exp ?? Math.floor(Date.now() / 1000) + 600)
    .sign(new TextEncoder().encode(options.key ?? secret))
  tokensUsed.push(jwt)
  return jwt
}

type ProviderWebSocket = NonNullable<
  NonNullable<ConstructorParameters<typeof WebsocketProvider>[3]>['WebSocketPolyfill']
>

interface StockClient {
  doc: Y.Doc
  text: Y.Text
  provider: WebsocketProvider
  /** Close codes of every connection it lost. */
  closes: number[]
  /** Close codes after which it gave up (the `closed` event). */
  gaveUp: number[]
}

/** The stock y-websocket client; the token goes in `params`, the only way it has to send one. */
function stockClient(httpUrl: string, docName: string, jwt: string | null): StockClient {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(httpUrl.replace(/^http/, 'ws'), docName, doc, {
    // ws implements the parts of the WHATWG WebSocket the provider uses; its types lack dispatchEvent.
    WebSocketPolyfill: WebSocket as unknown as ProviderWebSocket,
    disableBc: true,
    ...(jwt !== null && { params: { token: jwt } }),
  })
  const client: StockClient = { doc, text: doc.getText('codemirror'), provider, closes: [], gaveUp: [] }
  provider.on('connection-close', (event) => client.closes.push(event?.code ?? -1))
  provider.on('closed', (event) => client.gaveUp.push(event.code))
  perTest.defer(() => {
    // provider.destroy() leaves the awareness interval running; doc.destroy() stops it (STACK.md trap 8).
    provider.destroy()
    doc.destroy()
  })
  return client
}

/** Our provider; the token travels as the `token.<jwt>` subprotocol. */
function collabClient(httpUrl: string, docName: string, jwt: string) {
  const doc = new Y.Doc()
  const provider = new CollabProvider({
    serverUrl: httpUrl.replace(/^http/, 'ws'),
    docName,
    doc,
    token: jwt,
    WebSocketImpl: WebSocket as unknown as typeof globalThis.WebSocket,
  })
  perTest.defer(() => {
    provider.destroy()
    doc.destroy()
  })
  return { doc, text: doc.getText('codemirror'), provider }
}

/** The stock client was refused with `code` and stopped reconnecting. */
async function expectRefused(client: StockClient, code: number): Promise<void> {
  await waitFor(`the stock client to give up (closes: ${client.closes})`, () => client.gaveUp.length > 0)
  expect(client.gaveUp).toEqual([code])
  expect(client.closes).toEqual([code])
  expect(client.provider.shouldConnect).toBe(false)
  expect(client.provider.synced).toBe(false)
  expect(client.text.toString()).toBe('')
}

async function getJson(url: string, jwt?: string): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(url, jwt === undefined ? {} : { headers: { authorization: `Bearer ${jwt}` } })
  return { status: response.status, body: await response.json(), headers: response.headers }
}

describe('with --auth-secret', () => {
  let url = ''
  let cli: CliProcess
  beforeAll(async () => {
    ;({ cli, url } = await startCli(['--auth-secret', secret], perFile))
  })

  it('[AU1] the stock client (token in params) and our provider (token as subprotocol) connect and sync', async () => {
    const stock = stockClient(url, 'shared', await token({ shared: 'write' }))
    const ours = collabClient(url, 'shared', await token({ 'shar*': 'write' }))
    await waitFor('both to sync', () => stock.provider.synced && ours.provider.status.connection === 'synced')
    stock.text.insert(0, 'from stock. ')
    await waitFor('the stock edit to arrive', () => ours.text.toString() === 'from stock. ')
    ours.text.insert(ours.text.length, 'from ours.')
    await waitFor('our edit to arrive', () => stock.text.toString() === 'from stock. from ours.')
    expect(ours.provider.status.readOnly).toBe(false)
  })

  it('[AU1] no, forged, expired and wrong-document tokens are refused and the stock client stops', async () => {
    const cases: Array<[string, string | null, number]> = [
      ['no token', null, 4401],
      ['forged', await token({ '*': 'write' }, { key: 'a-different-secret-that-is-long-enough-xx' }), 4401],
      ['expired', await token({ '*': 'write' }, { exp: Math.floor(Date.now() / 1000) - 10 }), 4401],
      ['wrong document', await token({ 'other/*': 'write' }), 4403],
    ]
    const clients = cases.map(([, jwt]) => stockClient(url, 'guarded', jwt))
    for (const [index, [what, , code]] of cases.entries()) {
      try {
        await expectRefused(clients[index]!, code)
      } catch (err) {
        throw new Error(`${what}: ${err instanceof Error ? err.message : err}`)
      }
    }
    const ours = collabClient(url, 'guarded', cases[1]![1]!)
    await waitFor('our provider to give up', () => ours.provider.status.error !== null)
    expect(ours.provider.status).toMatchObject({ connection: 'offline', error: { code: 4401 } })
  })

  it('[AU3] a read-only token receives the document, but its edits do not land', async () => {
    const writer = stockClient(url, 'team/readonly', await token({ 'team/*': 'write' }))
    await waitFor('the writer to sync', () => writer.provider.synced)
    writer.text.insert(0, 'official text')
    const reader = stockClient(url, 'team/readonly', await token({ 'team/*': 'read', 'team/readonly': 'read' }))
    const ours = collabClient(url, 'team/readonly', await token({ 'team/readonly': 'read' }))
    await waitFor('the reader to receive the text', () => reader.text.toString() === 'official text')
    await waitFor('our provider to report read-only', () => ours.provider.status.readOnly)
    reader.text.insert(0, 'vandalism ')
    ours.text.insert(0, 'more vandalism ')
    writer.text.insert(writer.text.length, '.')
    await waitFor('the reader to receive the next edit', () => reader.text.toString().endsWith('.'))
    const fresh = stockClient(url, 'team/readonly', await token({ 'team/readonly': 'write' }))
    await waitFor('a fresh client to sync', () => fresh.provider.synced)
    expect(fresh.text.toString()).toBe('official text.')
    expect(writer.text.toString()).toBe('official text.')
    expect(reader.closes).toEqual([])
  })

  it('[AU1] /api/docs needs a token and lists only the documents it grants', async () => {
    const writer = await token({ '*': 'write' })
    const created = ['listing/team/a', 'listing/team/b', 'listing/private/c']
    for (const name of created) stockClient(url, name, writer).text.insert(0, name)
    const names = async (jwt: string) =>
      ((await getJson(`${url}/api/docs`, jwt)).body as { docs: Array<{ name: string }> }).docs.map((d) => d.name)
    await waitFor('the documents to be stored', async () => {
      const listed = await names(writer)
      return created.every((name) => listed.includes(name))
    })

    const anonymous = await getJson(`${url}/api/docs`)
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer')
    const forged = await getJson(`${url}/api/docs`, await token({ '*': 'read' }, { key: 'x'.repeat(40) }))
    expect(forged.status).toBe(401)
    expect(forged.headers.get('www-authenticate')).toMatch(/invalid_token/)
    const expired = await getJson(`${url}/api/docs`, await token({ '*': 'read' }, { exp: 1 }))
    expect(expired).toMatchObject({ status: 401, body: { error: 'token expired' } })

    const team = await token({ 'listing/team/*': 'read' })
    expect((await names(team)).sort()).toEqual(['listing/team/a', 'listing/team/b'])
    const viaQuery = await getJson(`${url}/api/docs?token=${team}`)
    expect(viaQuery.status).toBe(200)
    expect(await names(await token({ 'listing/private/c': 'read' }))).toEqual(['listing/private/c'])
    expect(await names(await token({ nothing: 'read' }))).toEqual([])
  })

  it('[AU6] /api/config says auth is on; /api/dev-token does not exist without --dev-tokens', async () => {
    expect(await getJson(`${url}/api/config`)).toMatchObject({ status: 200, body: { auth: true, devTokens: false } })
    expect((await getJson(`${url}/api/dev-token`)).status).toBe(404)
  })

  it('[DN1] a hostile name is refused with 4404 even with a prefix grant that would match it', async () => {
    const client = stockClient(url, 'team/..%2Fprivate%2Fc', await token({ 'team/*': 'write' }))
    await expectRefused(client, 4404)
  })

  it('[AU1] neither the secret nor any token appears in the server output', async () => {
    await waitFor('the log lines of the tests above', () => /connection closed/.test(cli.output()))
    expect(tokensUsed.length).toBeGreaterThan(10)
    const output = cli.output()
    expect(output).not.toContain(secret)
    for (const jwt of tokensUsed) {
      // Each of the three parts, so a log line holding a fragment of a token is caught as well.
      for (const part of jwt.split('.')) if (part.length > 20) expect(output).not.toContain(part)
    }
  })
})

describe('with --dev-tokens', () => {
  it('[AU6] issues working tokens; doc and access narrow them; bad queries get 400', async () => {
    const { cli, url } = await startCli(['--dev-tokens'], perTest)
    expect(cli.output()).toMatch(/DEVELOPMENT TOKENS ARE ON/)
    expect(await getJson(`${url}/api/config`)).toMatchObject({ body: { auth: true, devTokens: true } })

    const everything = await getJson(`${url}/api/dev-token`)
    expect(everything.status).toBe(200)
    const { token: all, expiresAt } = everything.body as { token: string; expiresAt: number }
    expect(expiresAt).toBeGreaterThan(Date.now())
    tokensUsed.push(all)
    const writer = stockClient(url, 'notes', all)
    await waitFor('the dev-token writer to sync', () => writer.provider.synced)
    writer.text.insert(0, 'dev text')

    const narrowed = await getJson(`${url}/api/dev-token?doc=notes&access=read`)
    const readNotes = (narrowed.body as { token: string }).token
    tokensUsed.push(readNotes)
    const elsewhere = stockClient(url, 'other', readNotes)
    await expectRefused(elsewhere, 4403)
    const reader = collabClient(url, 'notes', readNotes)
    await waitFor('the narrowed reader to receive the text', () => reader.text.toString() === 'dev text')
    await waitFor('the narrowed token to be read-only', () => reader.provider.status.readOnly)
    reader.text.insert(0, 'not allowed ')
    writer.text.insert(writer.text.length, '!')
    await waitFor('the next edit', () => reader.text.toString().endsWith('!'))
    expect(writer.text.toString()).toBe('dev text!')

    expect((await getJson(`${url}/api/docs`, readNotes)).body).toMatchObject({ docs: [{ name: 'notes' }] })
    for (const query of ['access=admin', 'access=', 'doc=..', 'doc=', 'doc=a%2F%2Fb', `doc=${'n'.repeat(201)}`]) {
      const refused = await getJson(`${url}/api/dev-token?${query}`)
      expect(refused.status, query).toBe(400)
      expect((refused.body as { error: string }).error, query).toMatch(/\S/)
    }
    expect((await fetch(`${url}/api/dev-token`, { method: 'POST' })).status).toBe(405)
  })
})

describe('with a public key', () => {
  it('[AU2] EdDSA tokens verify; an HS256 token signed with the public key does not', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519')
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
    const keyFile = join(tempDir(perTest), 'public.pem')
    writeFileSync(keyFile, publicPem)
    const { url } = await startCli(['--auth-public-key', keyFile], perTest)
    const signed = await new SignJWT({ docs: { '*': 'write' } })
      .setProtectedHeader({ alg: 'EdDSA' })
      .setExpirationTime('10m')
      .sign(privateKey)
    const good = stockClient(url, 'keyed', signed)
    await waitFor('the EdDSA client to sync', () => good.provider.synced)
    const confused = stockClient(url, 'keyed', await token({ '*': 'write' }, { key: publicPem }))
    await expectRefused(confused, 4401)
  })
})

describe('without authentication', () => {
  it('[AU5] warns loudly at start, and serves everyone', async () => {
    const { cli, url } = await startCli([], perTest)
    const warning = cli
      .output()
      .split('\n')
      .find((line) => line.includes('AUTHENTICATION IS OFF'))
    expect(warning).toBeDefined()
    expect(JSON.parse(warning!)).toMatchObject({ level: 40 })
    expect(await getJson(`${url}/api/config`)).toMatchObject({ body: { auth: false, devTokens: false } })
    expect((await getJson(`${url}/api/docs`)).status).toBe(200)
    const anyone = stockClient(url, 'open', null)
    await waitFor('an anonymous client to sync', () => anyone.provider.synced)
  })

  it('[AU5] no warning once a secret is set', async () => {
    const { cli } = await startCli(['--auth-secret', secret], perTest)
    expect(cli.output()).not.toMatch(/AUTHENTICATION IS OFF/)
  })
})

describe('bad auth configuration', () => {
  it('[AU2] a short secret exits with 2, names AUTH_SECRET and does not print the secret', async () => {
    const short = 'tooShortSecret42'
    for (const [args, env] of [
      [['--auth-secret', short], {}],
      [[], { AUTH_SECRET: short }],
    ] as const) {
      const cli = runCli([...args, '--data', tempDir(perTest)], perTest, env)
      expect(await cli.exited).toBe(2)
      expect(cli.stderr()).toMatch(/AUTH_SECRET/)
      expect(cli.stderr()).toMatch(/32 characters/)
      expect(cli.output()).not.toContain(short)
    }
  })

  it('[AU2] PEM text given to --auth-public-key is accepted, as its help says', async () => {
    const { publicKey } = generateKeyPairSync('ed25519')
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
    const { cli } = await startCli(['--auth-public-key', publicPem], perTest)
    expect(cli.output()).not.toMatch(/AUTHENTICATION IS OFF/)
  })

  it('[AU2] a secret and a public key together exit with 2, without printing the secret', async () => {
    const dir = tempDir(perTest)
    const keyFile = join(dir, 'public.pem')
    writeFileSync(keyFile, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }))
    const cli = runCli(['--auth-secret', secret, '--auth-public-key', keyFile, '--data', dir], perTest)
    expect(await cli.exited).toBe(2)
    expect(cli.stderr()).toMatch(/either a secret or a public key/)
    expect(cli.output()).not.toContain(secret)
  })

  it('[AU6] development tokens with a public key exit with 2', async () => {
    const dir = tempDir(perTest)
    const keyFile = join(dir, 'public.pem')
    writeFileSync(keyFile, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }))
    const cli = runCli(['--dev-tokens', '--auth-public-key', keyFile, '--data', dir], perTest)
    expect(await cli.exited).toBe(2)
    expect(cli.stderr()).toMatch(/DEV_TOKENS/)
  })

  it('[AU2] a public key that is not PEM exits with 2', async () => {
    const cli = runCli(['--auth-public-key', 'not a key', '--data', tempDir(perTest)], perTest)
    expect(await cli.exited).toBe(2)
    expect(cli.stderr()).toMatch(/AUTH_PUBLIC_KEY/)
  })
})
