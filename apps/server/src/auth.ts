import { createPublicKey, type KeyObject, randomBytes } from 'node:crypto'
import type { Access, Authenticate, AuthResult } from '@collab/server'
import { errors, type JWTPayload, jwtVerify, SignJWT } from 'jose'

/** How tokens are verified: a shared secret (HS256) or a public key (RS*, PS*, ES*, EdDSA). */
export interface JwtAuthOptions {
  secret?: string | undefined
  /** PEM-encoded public key (SPKI or certificate). */
  publicKey?: string | undefined
  issuer?: string | undefined
  audience?: string | undefined
  /**
   * Longest lifetime accepted, in seconds ([TK1] in docs/SECURITY.md): `exp - iat`, or `exp - now` without `iat`.
   * Tokens without `exp` are refused. 0: no maximum, and tokens without `exp` are accepted. Default 24 hours.
   */
  maxLifetimeSeconds?: number | undefined
}

/** The default of `--max-token-lifetime`: a day. */
export const defaultMaxTokenLifetimeSeconds = 24 * 60 * 60
/**
 * How far in the future `iat` may be and still count as the start of the lifetime: the issuer's clock may run a
 * little ahead. Beyond it the lifetime is counted from now, so a future `iat` cannot stretch a token's reach.
 */
const clockSkewSeconds = 60

/**
 * The claim that says which documents a token opens: document name to access. A key ending in `*` is a prefix
 * (`"team/*"`, or `"*"` for every document); the longest matching key decides.
 */
export type DocGrants = Record<string, Access>

interface CollabClaims extends JWTPayload {
  docs?: unknown
}

/** A verified token: who, what, until when. */
export interface VerifiedToken {
  subject: string | undefined
  grants: DocGrants
  expiresAt: number | undefined
}

/** Verifies tokens; built once from the configuration. */
export class TokenVerifier {
  private readonly key: Uint8Array | KeyObject
  private readonly algorithms: string[]

  constructor(private readonly options: JwtAuthOptions) {
    if (options.secret) {
      this.key = new TextEncoder().encode(options.secret)
      this.algorithms = ['HS256', 'HS384', 'HS512']
    } else if (options.publicKey) {
      const key = createPublicKey(options.publicKey)
      this.key = key
      this.algorithms = algorithmsFor(key)
    } else {
      throw new RangeError('TokenVerifier needs a secret or a public key')
    }
  }

  /** Verifies signature, expiry, issuer and audience; returns the grants, or the reason it is not valid. */
  async verify(token: string): Promise<{ ok: true; token: VerifiedToken } | { ok: false; reason: string }> {
    try {
      const { payload } = await jwtVerify<CollabClaims>(token, this.key, {
        algorithms: this.algorithms,
        ...(this.options.issuer !== undefined && { issuer: this.options.issuer }),
        ...(this.options.audience !== undefined && { audience: this.options.audience }),
      })
      const grants = parseGrants(payload.docs)
      if (!grants) return { ok: false, reason: 'token has no valid "docs" claim' }
      const lifetimeProblem = this.lifetimeProblem(payload)
      if (lifetimeProblem !== null) return { ok: false, reason: lifetimeProblem }
      return {
        ok: true,
        token: {
          subject: payload.sub,
          grants,
          expiresAt: payload.exp === undefined ? undefined : payload.exp * 1000,
        },
      }
    } catch (err) {
      if (err instanceof errors.JWTExpired) return { ok: false, reason: 'token expired' }
      if (err instanceof errors.JOSEError) return { ok: false, reason: `invalid token (${err.code})` }
      throw err
    }
  }

  /** Why the token lives too long ([TK1]), or `null`. Reasons stay short: they become WebSocket close reasons. */
  private lifetimeProblem(payload: JWTPayload): string | null {
    const max = this.options.maxLifetimeSeconds ?? defaultMaxTokenLifetimeSeconds
    if (max === 0) return null
    if (payload.exp === undefined) return 'token has no "exp" (expiry)'
    const now = Date.now() / 1000
    const start = payload.iat === undefined ? now : Math.min(payload.iat, now + clockSkewSeconds)
    if (payload.exp - start > max) return `token lifetime exceeds ${max} s`
    return null
  }
}

function algorithmsFor(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512']
    case 'ec':
      return ['ES256', 'ES384', 'ES512']
    case 'ed25519':
    case 'ed448':
      return ['EdDSA']
    default:
      throw new RangeError(`unsupported public key type ${key.asymmetricKeyType}`)
  }
}

function parseGrants(value: unknown): DocGrants | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null
  const grants: DocGrants = {}
  for (const [pattern, access] of Object.entries(value)) {
    if (access !== 'read' && access !== 'write') return null
    grants[pattern] = access
  }
  return grants
}

/** The access `grants` give to `docName`, or `null` when none matches ([AU2]). */
export function accessTo(grants: DocGrants, docName: string): Access | null {
  let best: { length: number; access: Access } | null = null
  for (const [pattern, access] of Object.entries(grants)) {
    const matches = pattern.endsWith('*') ? docName.startsWith(pattern.slice(0, -1)) : pattern === docName
    // An exact name beats any prefix of the same length ("a*" vs "a"): count it as one longer.
    const length = pattern.endsWith('*') ? pattern.length - 1 : pattern.length + 1
    if (matches && (!best || length > best.length)) best = { length, access }
  }
  return best?.access ?? null
}

/** The sync engine's `authenticate` hook on JWTs ([AU1], [AU2]). */
export function jwtAuthenticate(verifier: TokenVerifier): Authenticate {
  return async ({ docName, token }): Promise<AuthResult> => {
    if (!token) return { ok: false, code: 4401, reason: 'a token is required' }
    const verified = await verifier.verify(token)
    if (!verified.ok) return { ok: false, code: 4401, reason: verified.reason }
    const access = accessTo(verified.token.grants, docName)
    if (!access) return { ok: false, code: 4403, reason: 'the token does not grant this document' }
    return {
      ok: true,
      access,
      ...(verified.token.subject !== undefined && { user: verified.token.subject }),
      ...(verified.token.expiresAt !== undefined && { expiresAt: verified.token.expiresAt }),
    }
  }
}

/** A random secret for development tokens when none is configured. */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url')
}

/** Signs a token (HS256) granting `grants` for `ttlSeconds`, with the configured issuer and audience. */
export async function issueToken(
  options: JwtAuthOptions & { secret: string },
  subject: string,
  grants: DocGrants,
  ttlSeconds: number,
): Promise<string> {
  let jwt = new SignJWT({ docs: grants })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
  if (options.issuer !== undefined) jwt = jwt.setIssuer(options.issuer)
  if (options.audience !== undefined) jwt = jwt.setAudience(options.audience)
  return jwt.sign(new TextEncoder().encode(options.secret))
}
