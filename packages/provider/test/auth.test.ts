import { CloseCode } from '@collab/protocol'
import type { Authenticate, AuthResult } from '@collab/server'
import { afterEach, describe, expect, it } from 'vitest'
import type { TokenSource } from '../src/index.js'
import { createClient, startTestServer, Teardown, waitFor } from './harness.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

/** Verdicts by token, and the tokens the server saw, in order. */
function serverAuth(verdicts: Record<string, AuthResult>): { authenticate: Authenticate; seen: Array<string | null> } {
  const seen: Array<string | null> = []
  return {
    seen,
    authenticate: ({ token }) => {
      seen.push(token)
      return (token && verdicts[token]) || { ok: false, code: 4401, reason: 'invalid token' }
    },
  }
}

/** A token source that hands out `tokens` in turn (the last one forever) and records how it was asked. */
function tokenSource(...tokens: string[]): { source: TokenSource; calls: Array<{ afterRefusal: boolean }> } {
  const calls: Array<{ afterRefusal: boolean }> = []
  return {
    calls,
    source: async (attempt) => {
      calls.push({ ...attempt })
      return tokens[Math.min(calls.length - 1, tokens.length - 1)]!
    },
  }
}

const write: AuthResult = { ok: true, access: 'write' }
const read: AuthResult = { ok: true, access: 'read' }

/** Backoff short enough that retries happen within a test. */
const fast = { backoff: { baseMs: 20, maxMs: 50 }, minHealthyMs: 0 }

describe('CollabProvider authentication', () => {
  it('[AU1] sends the token as a `token.<t>` subprotocol, or as a query parameter when it cannot be one', async () => {
    const { authenticate, seen } = serverAuth({ 'plain.jwt-like_token~1': write, 'needs escaping/+=': write })
    const server = await startTestServer(teardown, { authenticate })
    const a = createClient(server.url, 'doc', teardown, { token: 'plain.jwt-like_token~1' })
    const b = createClient(server.url, 'doc', teardown, { token: async () => 'needs escaping/+=' })
    await waitFor(
      'both synced',
      () => a.provider.status.connection === 'synced' && b.provider.status.connection === 'synced',
    )
    expect(seen).toEqual(['plain.jwt-like_token~1', 'needs escaping/+='])
  })

  it('[AU1] the token source is called before every connection attempt', async () => {
    let verdict: AuthResult = { ok: false, code: 4401, reason: 'unused' }
    const seen: Array<string | null> = []
    const server = await startTestServer(teardown, {
      authenticate: ({ token }) => {
        seen.push(token)
        // A hook failure (4503) is worth retrying, with the same kind of token.
        if (seen.length === 1) throw new Error('the verifier is warming up')
        return verdict
      },
    })
    verdict = write
    const { source, calls } = tokenSource('t1', 't2', 't3')
    const a = createClient(server.url, 'doc', teardown, { token: source, ...fast })
    await waitFor('synced', () => a.provider.status.connection === 'synced')
    expect(calls).toEqual([{ afterRefusal: false }, { afterRefusal: false }])
    expect(seen).toEqual(['t1', 't2'])
  })

  it('[AU4] after a 4401 it asks once more with afterRefusal and connects with the fresh token', async () => {
    const { authenticate, seen } = serverAuth({ fresh: write })
    const server = await startTestServer(teardown, { authenticate })
    const { source, calls } = tokenSource('stale', 'fresh')
    const a = createClient(server.url, 'doc', teardown, { token: source })
    await waitFor('synced', () => a.provider.status.connection === 'synced')
    expect(calls).toEqual([{ afterRefusal: false }, { afterRefusal: true }])
    expect(seen).toEqual(['stale', 'fresh'])
    expect(a.provider.status.error).toBeNull()
  })

  it('[AU4] a second 4401 stops it with status.error 4401', async () => {
    const { authenticate, seen } = serverAuth({})
    const server = await startTestServer(teardown, { authenticate })
    const { source, calls } = tokenSource('stale', 'still bad')
    const a = createClient(server.url, 'doc', teardown, { token: source, ...fast })
    await waitFor('the provider to give up', () => a.provider.status.error !== null)
    expect(a.provider.status).toMatchObject({ connection: 'offline', error: { code: CloseCode.NotAuthenticated } })
    // No third attempt follows, however long we wait for one.
    const attempts = seen.length
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(seen).toHaveLength(attempts)
    expect(calls).toEqual([{ afterRefusal: false }, { afterRefusal: true }])
  })

  it('[AU1] a 4403 stops it at once, without asking for another token', async () => {
    const { authenticate, seen } = serverAuth({ outsider: { ok: false, code: 4403, reason: 'not your document' } })
    const server = await startTestServer(teardown, { authenticate })
    const { source, calls } = tokenSource('outsider')
    const a = createClient(server.url, 'doc', teardown, { token: source, ...fast })
    await waitFor('the provider to give up', () => a.provider.status.error !== null)
    expect(a.provider.status).toMatchObject({
      connection: 'offline',
      error: { code: CloseCode.Forbidden, reason: 'not your document' },
    })
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(calls).toHaveLength(1)
    expect(seen).toEqual(['outsider'])
  })

  it('[AU4] a fixed token refused with 4401 is not retried', async () => {
    const { authenticate, seen } = serverAuth({})
    const server = await startTestServer(teardown, { authenticate })
    const a = createClient(server.url, 'doc', teardown, { token: 'expired', ...fast })
    await waitFor('the provider to give up', () => a.provider.status.error !== null)
    expect(a.provider.status.error?.code).toBe(CloseCode.NotAuthenticated)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(seen).toEqual(['expired'])
  })

  it('[AU4] every expiry of a session is followed by one refresh, and the session goes on', async () => {
    let issued = 0
    const server = await startTestServer(teardown, {
      pingIntervalMs: 20,
      authenticate: ({ token }) =>
        token?.startsWith('token-') ? { ok: true, access: 'write', expiresAt: Date.now() + 150 } : write,
    })
    const calls: Array<{ afterRefusal: boolean }> = []
    const a = createClient(server.url, 'doc', teardown, {
      token: (attempt) => {
        calls.push({ ...attempt })
        return `token-${++issued}`
      },
      ...fast,
    })
    const b = createClient(server.url, 'doc', teardown, { token: 'lasting' })
    await waitFor('three expiries', () => calls.length >= 4, 5_000)
    await waitFor('synced again', () => a.provider.status.connection === 'synced')
    expect(calls.slice(0, 4)).toEqual([
      { afterRefusal: false },
      { afterRefusal: true },
      { afterRefusal: true },
      { afterRefusal: true },
    ])
    expect(a.provider.status.error).toBeNull()
    a.text.insert(0, 'still editing')
    await waitFor('the edit to arrive', () => b.text.toString() === 'still editing')
  })

  it('[AU3] status.readOnly is true for a read-only connection and false for a writer', async () => {
    const { authenticate } = serverAuth({ reader: read, writer: write })
    const server = await startTestServer(teardown, { authenticate })
    const reader = createClient(server.url, 'doc', teardown, { token: 'reader' })
    const writer = createClient(server.url, 'doc', teardown, { token: 'writer' })
    await waitFor(
      'both synced',
      () => reader.provider.status.connection === 'synced' && writer.provider.status.connection === 'synced',
    )
    await waitFor('the read-only flag', () => reader.provider.status.readOnly)
    expect(writer.provider.status.readOnly).toBe(false)
    writer.text.insert(0, 'from the writer')
    await waitFor('the reader to receive it', () => reader.text.toString() === 'from the writer')
    // The reader's edit stays local: the writer never sees it.
    reader.text.insert(0, 'from the reader ')
    writer.text.insert(writer.text.length, '.')
    await waitFor('the writer edit', () => reader.text.toString().endsWith('.'))
    expect(writer.text.toString()).toBe('from the writer.')
  })
})
