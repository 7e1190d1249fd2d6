import { decodeJwt, SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { bearer, rawSocket, secret, start, teardown } from './http-support.js'

// [TK1] in docs/SECURITY.md, against the app server on port 0: tokens must expire, and within the maximum.

afterEach(() => teardown.run())

const now = () => Math.floor(Date.now() / 1000)

/** A token for every document; `exp: null` leaves the claim out. */
function token(exp: number | null, iat: number = now()): Promise<string> {
  let jwt = new SignJWT({ docs: { '*': 'write' } }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(iat)
  if (exp !== null) jwt = jwt.setExpirationTime(exp)
  return jwt.sign(new TextEncoder().encode(secret))
}

async function apiStatus(url: string, jwt: string): Promise<{ status: number; error: unknown }> {
  const res = await fetch(`${url}/api/docs`, { headers: bearer(jwt) })
  return { status: res.status, error: ((await res.json()) as { error?: unknown }).error }
}

describe('[TK1] maximum token lifetime', () => {
  it('by default, a token without exp or living longer than a day is 4401 over WebSocket and 401 over HTTP', async () => {
    const server = await start({ authSecret: secret })
    const forever = await token(null)
    const week = await token(now() + 7 * 24 * 3600)
    for (const jwt of [forever, week]) {
      const { closed } = await rawSocket(server, `doc?token=${jwt}`)
      expect(await closed).toBe(4401)
    }
    expect(await apiStatus(server.url, forever)).toEqual({ status: 401, error: 'token has no "exp" (expiry)' })
    expect(await apiStatus(server.url, week)).toEqual({ status: 401, error: 'token lifetime exceeds 86400 s' })

    const hour = await token(now() + 3600)
    expect((await apiStatus(server.url, hour)).status).toBe(200)
    const { ws } = await rawSocket(server, `doc?token=${hour}`)
    // Admitted: the server's sync step 1 arrives.
    await new Promise((resolve) => ws.once('message', resolve))
  })

  it('--max-token-lifetime sets the maximum, and development tokens stay within it', async () => {
    const server = await start({ authSecret: secret, devTokens: true, maxTokenLifetime: 600 })
    expect((await apiStatus(server.url, await token(now() + 900))).status).toBe(401)
    const { token: dev } = (await (await fetch(`${server.url}/api/dev-token`)).json()) as { token: string }
    const claims = decodeJwt(dev)
    expect(claims.exp! - claims.iat!).toBe(600)
    expect((await apiStatus(server.url, dev)).status).toBe(200)
  })

  it('development tokens work with the default maximum', async () => {
    const server = await start({ devTokens: true })
    const { token: dev } = (await (await fetch(`${server.url}/api/dev-token`)).json()) as { token: string }
    expect((await apiStatus(server.url, dev)).status).toBe(200)
    const { ws } = await rawSocket(server, `doc?token=${dev}`)
    await new Promise((resolve) => ws.once('message', resolve))
  })

  it('0 accepts tokens without exp, and the server says at start that this is unsafe', async () => {
    const server = await start({ authSecret: secret, maxTokenLifetime: 0 })
    expect((await apiStatus(server.url, await token(null))).status).toBe(200)
    expect(server.logs.some((line) => /^TOKEN LIFETIME IS UNLIMITED/.test(line.msg))).toBe(true)
  })
})
