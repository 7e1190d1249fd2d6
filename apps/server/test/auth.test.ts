import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import fc from 'fast-check'
import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { accessTo, type DocGrants, issueToken, jwtAuthenticate, TokenVerifier } from '../src/auth.js'

const secret = 'a-test-secret-that-is-long-enough-0123456789'
const otherSecret = 'another-secret-that-is-long-enough-9876543210'
const now = () => Math.floor(Date.now() / 1000)

/** Claims of a token; `docs` defaults to every document, writable. */
interface TokenSpec {
  docs?: unknown
  sub?: string
  iss?: string
  aud?: string
  /** Seconds since the epoch; `null` for no `exp` claim. Default: an hour from now. */
  exp?: number | null
  nbf?: number
  /** Seconds since the epoch; `null` for no `iat` claim. Default: now. */
  iat?: number | null
}

function claims(spec: TokenSpec): SignJWT {
  let jwt = new SignJWT({ docs: 'docs' in spec ? spec.docs : { '*': 'write' } })
  if (spec.iat !== null) jwt = jwt.setIssuedAt(spec.iat ?? now())
  if (spec.sub !== undefined) jwt = jwt.setSubject(spec.sub)
  if (spec.iss !== undefined) jwt = jwt.setIssuer(spec.iss)
  if (spec.aud !== undefined) jwt = jwt.setAudience(spec.aud)
  if (spec.exp !== null) jwt = jwt.setExpirationTime(spec.exp ?? now() + 3_600)
  if (spec.nbf !== undefined) jwt = jwt.setNotBefore(spec.nbf)
  return jwt
}

function hs256(spec: TokenSpec = {}, key = secret): Promise<string> {
  return claims(spec).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(key))
}

function signWith(alg: string, privateKey: KeyObject, spec: TokenSpec = {}): Promise<string> {
  return claims(spec).setProtectedHeader({ alg }).sign(privateKey)
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** An unsigned token (`alg: none`), which no verifier may accept. */
function unsecured(payload: Record<string, unknown>): string {
  return `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.`
}

function pem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString()
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const ed25519 = generateKeyPairSync('ed25519')
const otherEd25519 = generateKeyPairSync('ed25519')
const ecP256 = generateKeyPairSync('ec', { namedCurve: 'P-256' })

async function reasonOf(verifier: TokenVerifier, token: string): Promise<string> {
  const result = await verifier.verify(token)
  if (result.ok) throw new Error('expected the token to be refused')
  return result.reason
}

describe('[AU2] TokenVerifier', () => {
  it('[AU2] accepts an HS256 token signed with the secret and reads subject, grants and expiry', async () => {
    const verifier = new TokenVerifier({ secret })
    const exp = now() + 600
    const result = await verifier.verify(await hs256({ sub: 'alice', docs: { 'team/*': 'read' }, exp }))
    expect(result).toEqual({
      ok: true,
      token: { subject: 'alice', grants: { 'team/*': 'read' }, expiresAt: exp * 1000 },
    })
  })

  it('[AU2] accepts RS256, PS256, ES256 and EdDSA tokens with the matching public key', async () => {
    for (const [alg, pair] of [
      ['RS256', rsa],
      ['PS256', rsa],
      ['ES256', ecP256],
      ['EdDSA', ed25519],
    ] as const) {
      const verifier = new TokenVerifier({ publicKey: pem(pair.publicKey) })
      const result = await verifier.verify(await signWith(alg, pair.privateKey, { sub: alg }))
      expect(result.ok, alg).toBe(true)
    }
  })

  it('[AU1] refuses a forged signature, the wrong key and the wrong secret', async () => {
    const withSecret = new TokenVerifier({ secret })
    const good = await hs256()
    const [header, payload, signature] = good.split('.') as [string, string, string]
    const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`
    expect(await reasonOf(withSecret, `${header}.${payload}.${flipped}`)).toMatch(/invalid token/)
    // A payload granting more, under the original signature.
    const escalated = base64url({ docs: { '*': 'write' }, sub: 'mallory', exp: now() + 3_600 })
    expect(await reasonOf(withSecret, `${header}.${escalated}.${signature}`)).toMatch(/invalid token/)
    expect(await reasonOf(withSecret, await hs256({}, otherSecret))).toMatch(/invalid token/)

    const withKey = new TokenVerifier({ publicKey: pem(ed25519.publicKey) })
    expect(await reasonOf(withKey, await signWith('EdDSA', otherEd25519.privateKey))).toMatch(/invalid token/)
  })

  it('[AU1] refuses `alg: none`, and an HS256 token made with the public key as its secret', async () => {
    const publicPem = pem(rsa.publicKey)
    const payload = { docs: { '*': 'write' }, exp: now() + 3_600 }
    expect(await reasonOf(new TokenVerifier({ secret }), unsecured(payload))).toMatch(/invalid token/)
    expect(await reasonOf(new TokenVerifier({ publicKey: publicPem }), unsecured(payload))).toMatch(/invalid token/)
    // Algorithm confusion: a verifier configured with a public key must never treat it as an HMAC secret.
    const confused = await hs256({}, publicPem)
    expect(await reasonOf(new TokenVerifier({ publicKey: publicPem }), confused)).toMatch(/invalid token/)
    // And a secret verifier takes no asymmetric tokens.
    expect(await reasonOf(new TokenVerifier({ secret }), await signWith('RS256', rsa.privateKey))).toMatch(
      /invalid token/,
    )
  })

  it('[AU1] refuses expired and not-yet-valid tokens', async () => {
    const verifier = new TokenVerifier({ secret })
    expect(await reasonOf(verifier, await hs256({ exp: now() - 60 }))).toBe('token expired')
    expect(await reasonOf(verifier, await hs256({ nbf: now() + 3_600 }))).toMatch(/invalid token/)
  })

  it('[AU2] checks issuer and audience when they are configured', async () => {
    const verifier = new TokenVerifier({ secret, issuer: 'https://auth.example', audience: 'collab' })
    expect((await verifier.verify(await hs256({ iss: 'https://auth.example', aud: 'collab' }))).ok).toBe(true)
    for (const spec of [
      { iss: 'https://evil.example', aud: 'collab' },
      { iss: 'https://auth.example', aud: 'another-app' },
      { aud: 'collab' },
      { iss: 'https://auth.example' },
    ]) {
      expect(await reasonOf(verifier, await hs256(spec)), JSON.stringify(spec)).toMatch(/invalid token/)
    }
    // Not configured: not checked.
    expect((await new TokenVerifier({ secret }).verify(await hs256({ iss: 'anyone', aud: 'any' }))).ok).toBe(true)
  })

  it('[AU2] refuses a token whose "docs" claim is missing or malformed', async () => {
    const verifier = new TokenVerifier({ secret })
    for (const docs of [undefined, null, 'everything', ['doc'], { doc: 'admin' }, { doc: true }, { a: 'read', b: 1 }]) {
      const token = await hs256({ docs })
      expect(await reasonOf(verifier, token), JSON.stringify(docs)).toBe('token has no valid "docs" claim')
    }
  })

  it('[AU1] refuses malformed tokens without throwing', async () => {
    const verifier = new TokenVerifier({ secret })
    for (const token of ['', 'not-a-jwt', 'a.b', 'a.b.c', '..', `${base64url({ alg: 'HS256' })}.e30.`, 'é.é.é']) {
      expect(await reasonOf(verifier, token), token).toMatch(/invalid token/)
    }
  })

  it('[AU1] arbitrary strings and mutations of a valid token never throw and never grant anything new', async () => {
    const verifier = new TokenVerifier({ secret })
    const original = await hs256({ sub: 'alice', docs: { 'team/*': 'read' } })
    const originalClaims = await verifier.verify(original)
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc
            .record({ at: fc.nat(original.length - 1), char: fc.constantFrom(...'AZaz09-_.=+/ ') })
            .map(({ at, char }) => `${original.slice(0, at)}${char}${original.slice(at + 1)}`),
          fc.nat(original.length).map((at) => original.slice(0, at)),
        ),
        async (token) => {
          const result = await verifier.verify(token)
          // base64url leaves spare bits in the last character of each part: a few mutations decode to the very
          // same bytes and verify. They must carry exactly the original claims.
          if (result.ok) expect(result).toEqual(originalClaims)
        },
      ),
      { numRuns: 500, seed: 5 },
    )
  })

  it('refuses to be built without a key, or with a key type it cannot verify', () => {
    expect(() => new TokenVerifier({})).toThrow(RangeError)
    const dh = generateKeyPairSync('x25519')
    expect(() => new TokenVerifier({ publicKey: pem(dh.publicKey) })).toThrow(/unsupported public key type/)
  })
})

describe('[TK1] maximum token lifetime', () => {
  const day = 24 * 60 * 60

  it('[TK1] refuses a token without exp by default; 0 accepts it', async () => {
    const forever = await hs256({ exp: null })
    expect(await reasonOf(new TokenVerifier({ secret }), forever)).toBe('token has no "exp" (expiry)')
    expect((await new TokenVerifier({ secret, maxLifetimeSeconds: 0 }).verify(forever)).ok).toBe(true)
  })

  it('[TK1] counts exp - iat against the maximum, a day by default', async () => {
    const verifier = new TokenVerifier({ secret })
    const issued = now() - 3_600
    expect((await verifier.verify(await hs256({ iat: issued, exp: issued + day }))).ok).toBe(true)
    expect(await reasonOf(verifier, await hs256({ iat: issued, exp: issued + day + 1 }))).toBe(
      `token lifetime exceeds ${day} s`,
    )
    // What is left of it does not matter: a week-long token is refused even in its last day.
    expect(await reasonOf(verifier, await hs256({ iat: now() - 6 * day, exp: now() + 3_600 }))).toMatch(/lifetime/)
    const short = new TokenVerifier({ secret, maxLifetimeSeconds: 600 })
    expect((await short.verify(await hs256({ exp: now() + 600 }))).ok).toBe(true)
    expect(await reasonOf(short, await hs256({ exp: now() + 601 }))).toBe('token lifetime exceeds 600 s')
    expect(
      (await new TokenVerifier({ secret, maxLifetimeSeconds: 0 }).verify(await hs256({ exp: now() + 99 * day }))).ok,
    ).toBe(true)
  })

  it('[TK1] without iat, or with an iat in the future, counts from now', async () => {
    const verifier = new TokenVerifier({ secret, maxLifetimeSeconds: 600 })
    expect((await verifier.verify(await hs256({ iat: null, exp: now() + 590 }))).ok).toBe(true)
    expect(await reasonOf(verifier, await hs256({ iat: null, exp: now() + 700 }))).toMatch(/lifetime/)
    // An issuer clock a little ahead is tolerated; an iat far ahead cannot stretch the token's reach.
    expect((await verifier.verify(await hs256({ iat: now() + 30, exp: now() + 630 }))).ok).toBe(true)
    expect(await reasonOf(verifier, await hs256({ iat: now() + 3_000, exp: now() + 3_600 }))).toMatch(/lifetime/)
  })

  it('[TK1] the WebSocket hook refuses such tokens with 4401', async () => {
    const authenticate = jwtAuthenticate(new TokenVerifier({ secret }))
    const request = { docName: 'doc', remoteAddress: '127.0.0.1', headers: {} }
    expect(await authenticate({ ...request, token: await hs256({ exp: null }) })).toEqual({
      ok: false,
      code: 4401,
      reason: 'token has no "exp" (expiry)',
    })
    expect(await authenticate({ ...request, token: await hs256({ exp: now() + 2 * day }) })).toMatchObject({
      ok: false,
      code: 4401,
    })
  })
})

describe('[AU2] accessTo', () => {
  const grants: DocGrants = { 'team/*': 'read', 'team/secret': 'write', '*': 'read' }

  it('[AU2] exact names, prefixes and the longest match', () => {
    expect(accessTo(grants, 'team/secret')).toBe('write')
    expect(accessTo(grants, 'team/notes')).toBe('read')
    expect(accessTo(grants, 'elsewhere')).toBe('read')
    expect(accessTo({ 'team/*': 'write', 'team/secret': 'read' }, 'team/secret')).toBe('read')
    expect(accessTo({ 'team/*': 'write', 'team/secret': 'read' }, 'team/secret/sub')).toBe('write')
    expect(accessTo({ 'team/*': 'read', 'team/private/*': 'write' }, 'team/private/x')).toBe('write')
    // An exact name beats a prefix of the same length.
    expect(accessTo({ 'a*': 'write', a: 'read' }, 'a')).toBe('read')
  })

  it('[AU2] nothing matches what is not granted; `*` is special only at the end', () => {
    expect(accessTo({ 'team/*': 'write' }, 'team')).toBeNull()
    expect(accessTo({ 'team/*': 'write' }, 'teammate/doc')).toBeNull()
    expect(accessTo({ team: 'write' }, 'team/doc')).toBeNull()
    expect(accessTo({ 'te*m': 'write' }, 'team')).toBeNull()
    expect(accessTo({ 'te*m': 'write' }, 'te*m')).toBe('write')
    expect(accessTo({}, 'doc')).toBeNull()
    // Prefix "team*" (no slash) is a plain string prefix: a grant writer must mean it.
    expect(accessTo({ 'team*': 'write' }, 'teammate')).toBe('write')
  })

  it('[AU2] names that are Object.prototype keys get no access from nowhere', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(accessTo({ doc: 'write' }, name)).toBeNull()
    }
    expect(accessTo(JSON.parse('{"__proto__": "write"}') as DocGrants, 'anything')).toBeNull()
  })
})

describe('[AU1] jwtAuthenticate', () => {
  const authenticate = jwtAuthenticate(new TokenVerifier({ secret }))
  const request = (docName: string, token: string | null) => ({
    docName,
    token,
    remoteAddress: '127.0.0.1',
    headers: {},
  })

  it('[AU1] missing, forged and expired tokens are 4401; a token for other documents is 4403', async () => {
    expect(await authenticate(request('doc', null))).toEqual({ ok: false, code: 4401, reason: 'a token is required' })
    expect(await authenticate(request('doc', ''))).toMatchObject({ ok: false, code: 4401 })
    expect(await authenticate(request('doc', await hs256({}, otherSecret)))).toMatchObject({ ok: false, code: 4401 })
    expect(await authenticate(request('doc', await hs256({ exp: now() - 1 })))).toEqual({
      ok: false,
      code: 4401,
      reason: 'token expired',
    })
    expect(await authenticate(request('doc', await hs256({ docs: { other: 'write' } })))).toEqual({
      ok: false,
      code: 4403,
      reason: 'the token does not grant this document',
    })
  })

  it('[AU2] read and write grants, with the subject and expiry for the engine', async () => {
    const exp = now() + 900
    const token = await hs256({ sub: 'bob', exp, docs: { 'team/*': 'read', 'team/mine': 'write' } })
    expect(await authenticate(request('team/notes', token))).toEqual({
      ok: true,
      access: 'read',
      user: 'bob',
      expiresAt: exp * 1000,
    })
    expect(await authenticate(request('team/mine', token))).toMatchObject({ ok: true, access: 'write' })
    expect(await authenticate(request('other', token))).toMatchObject({ ok: false, code: 4403 })
  })

  it('[AU6] issueToken makes tokens the verifier accepts, with issuer and audience', async () => {
    const options = { secret, issuer: 'collab-dev', audience: 'collab' }
    const token = await issueToken(options, 'dev', { 'notes/*': 'write' }, 60)
    const verified = await new TokenVerifier(options).verify(token)
    expect(verified).toMatchObject({ ok: true, token: { subject: 'dev', grants: { 'notes/*': 'write' } } })
    if (verified.ok) expect(verified.token.expiresAt! - Date.now()).toBeLessThanOrEqual(60_000)
    expect((await new TokenVerifier({ ...options, audience: 'other' }).verify(token)).ok).toBe(false)
  })
})
