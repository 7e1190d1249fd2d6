import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ServerProcess, startServerProcess } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { issueToken } from '../src/auth.js'
import {
  bearer,
  post,
  secret,
  start,
  stockClient,
  teardown,
  textOf,
  textUpdate,
  tokenFor,
  waitFor,
} from './http-support.js'

// The version history API ([VH1]-[VH3], docs/OPERATIONS.md "Version history") over the real server: permissions,
// statuses, a restore seen live by a stock client, and versions with their authors surviving kill -9.

afterEach(() => teardown.run())

const json = (token: string) => ({ ...bearer(token), 'content-type': 'application/json' })

async function call(url: string, method: string, headers: Record<string, string>, body?: unknown): Promise<Response> {
  return fetch(url, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) })
}

describe('version history API', () => {
  it('[VH1] names, lists, reads, renames and deletes versions with the statuses the API documents', async () => {
    const server = await start({ authSecret: secret })
    const writer = await tokenFor({ 'memo*': 'write' }, 'wendy')
    const base = `${server.url}/api/docs/memo/versions`
    expect((await post(`${server.url}/api/docs/memo/updates`, textUpdate('v1 text'), bearer(writer))).status).toBe(204)

    const made = await call(base, 'POST', json(writer), { name: 'First' })
    expect(made.status).toBe(201)
    const first = (await made.json()) as { id: string; name: string; auto: boolean; at: number; authors: string[] }
    expect(first).toMatchObject({ id: '1', name: 'First', auto: false, authors: [] })
    expect(typeof first.at).toBe('number')

    const listed = await call(base, 'GET', bearer(writer))
    expect(listed.status).toBe(200)
    expect(await listed.json()).toEqual([first])

    const text = await call(`${base}/1`, 'GET', { ...bearer(writer), accept: 'text/plain' })
    expect(text.status).toBe(200)
    expect(text.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    expect(await text.text()).toBe('v1 text')
    const state = await call(`${base}/1`, 'GET', { ...bearer(writer), accept: 'application/octet-stream' })
    expect(textOf(new Uint8Array(await state.arrayBuffer()))).toBe('v1 text')
    expect((await call(`${base}/1`, 'GET', { ...bearer(writer), accept: 'image/png' })).status).toBe(406)
    expect(await (await call(`${base}/1/authors`, 'GET', bearer(writer))).json()).toEqual([
      { text: 'v1 text', user: null },
    ])

    const renamed = await call(`${base}/1`, 'PATCH', json(writer), { name: 'Renamed' })
    expect(renamed.status).toBe(200)
    expect(await renamed.json()).toMatchObject({ id: '1', name: 'Renamed' })

    // Bad ids and names.
    for (const id of ['2', '0', 'abc', '1.5', '%E0%A4%A']) {
      expect((await call(`${base}/${id}`, 'GET', { ...bearer(writer), accept: 'text/plain' })).status, id).toBe(404)
    }
    expect((await call(`${base}/9/restore`, 'POST', bearer(writer))).status).toBe(404)
    expect((await call(`${base}/9/authors`, 'GET', bearer(writer))).status).toBe(404)
    for (const body of [{ name: '' }, { name: '   ' }, { name: 'x'.repeat(201) }, { name: 'a\nb' }, { name: 7 }, {}]) {
      expect((await call(base, 'POST', json(writer), body)).status, JSON.stringify(body)).toBe(400)
    }
    expect((await call(`${base}/1`, 'PATCH', json(writer), { name: 3 })).status).toBe(400)
    const notJson = await fetch(base, { method: 'POST', headers: bearer(writer), body: '{"name":"x"}' })
    expect(notJson.status).toBe(415)
    expect((await call(`${server.url}/api/docs/memo%00/versions`, 'GET', bearer(writer))).status).toBe(400)
    expect(
      (await call(`${server.url}/api/docs/memo-nothing/versions`, 'POST', json(writer), { name: 'x' })).status,
    ).toBe(404)
    expect(await (await call(`${server.url}/api/docs/memo-nothing/versions`, 'GET', bearer(writer))).json()).toEqual([])

    // Automatic (unnamed) versions are thinned, not deleted; named ones can be.
    expect((await call(`${base}/1`, 'PATCH', json(writer), { name: null })).status).toBe(200)
    expect((await call(`${base}/1`, 'DELETE', bearer(writer))).status).toBe(409)
    expect((await call(`${base}/1`, 'PATCH', json(writer), { name: 'Again' })).status).toBe(200)
    expect((await call(`${base}/1`, 'DELETE', bearer(writer))).status).toBe(204)
    expect(await (await call(base, 'GET', bearer(writer))).json()).toEqual([])
    expect((await call(`${base}/1`, 'GET', bearer(writer))).status).toBe(404)
  })

  it('[VH1] a read-only token may list and read versions, not make, rename, delete or restore them', async () => {
    const server = await start({ authSecret: secret })
    const writer = await tokenFor({ paper: 'write' }, 'wendy')
    const reader = await tokenFor({ paper: 'read' }, 'rita')
    const stranger = await tokenFor({ other: 'write' }, 'sam')
    const base = `${server.url}/api/docs/paper/versions`
    await post(`${server.url}/api/docs/paper/updates`, textUpdate('shared'), bearer(writer))
    expect((await call(base, 'POST', json(writer), { name: 'kept' })).status).toBe(201)

    expect((await call(base, 'GET', bearer(reader))).status).toBe(200)
    expect(await (await call(`${base}/1`, 'GET', { ...bearer(reader), accept: 'text/plain' })).text()).toBe('shared')
    expect((await call(`${base}/1/authors`, 'GET', bearer(reader))).status).toBe(200)
    expect((await call(base, 'POST', json(reader), { name: 'mine' })).status).toBe(403)
    expect((await call(`${base}/1/restore`, 'POST', bearer(reader))).status).toBe(403)
    expect((await call(`${base}/1`, 'PATCH', json(reader), { name: 'x' })).status).toBe(403)
    expect((await call(`${base}/1`, 'DELETE', bearer(reader))).status).toBe(403)
    expect((await call(base, 'GET', bearer(stranger))).status).toBe(403)
    expect((await call(base, 'GET', {})).status).toBe(401)
    expect(await (await call(base, 'GET', bearer(writer))).json()).toHaveLength(1)
  })

  it('[VH3] a restore through the API is one edit a stock client sees live, credited to the caller, and undoable', async () => {
    const server = await start({ authSecret: secret })
    const writer = await tokenFor({ '*': 'write' }, 'wendy')
    const restorer = await tokenFor({ '*': 'write' }, 'rob')
    const base = `${server.url}/api/docs/live/versions`
    const client = stockClient(server, 'live', writer)
    await waitFor('the client to sync', () => client.provider.synced)
    client.text.insert(0, 'Line one\nLine two\n')
    await waitFor('the edit to be stored', async () => {
      const answer = await fetch(`${server.url}/api/docs/live`, {
        headers: { ...bearer(writer), accept: 'text/plain' },
      })
      return (await answer.text()) === 'Line one\nLine two\n'
    })
    const named = (await (await call(base, 'POST', json(writer), { name: 'two lines' })).json()) as { id: string }
    client.text.delete(0, 9)
    client.text.insert(client.text.length, 'Line three\n')
    await waitFor('the second edit to be stored', async () => {
      const answer = await fetch(`${server.url}/api/docs/live`, {
        headers: { ...bearer(writer), accept: 'text/plain' },
      })
      return (await answer.text()) === 'Line two\nLine three\n'
    })

    const restored = await call(`${base}/${named.id}/restore`, 'POST', bearer(restorer))
    expect(restored.status).toBe(200)
    const { before, changed } = (await restored.json()) as { before: { id: string; name: string }; changed: boolean }
    expect(changed).toBe(true)
    expect(before.name).toBe('Before restoring "two lines"')
    await waitFor('the stock client to show the restored text', () => client.text.toString() === 'Line one\nLine two\n')

    // The restored line is rob's: he typed it back in; "Line two" stays wendy's.
    const latest = (await (await call(base, 'POST', json(writer), { name: 'after' })).json()) as {
      id: string
      authors: string[]
    }
    expect(latest.authors).toEqual(['rob'])
    expect(await (await call(`${base}/${latest.id}/authors`, 'GET', bearer(writer))).json()).toEqual([
      { text: 'Line one\n', user: 'rob' },
      { text: 'Line two\n', user: 'wendy' },
    ])

    expect((await call(`${base}/${before.id}/restore`, 'POST', bearer(restorer))).status).toBe(200)
    await waitFor('the undo to reach the client', () => client.text.toString() === 'Line two\nLine three\n')
  })
})

describe('version history across kill -9', () => {
  let server: ServerProcess | null = null
  afterEach(async () => {
    await server?.stop('SIGKILL')
    server = null
  })

  it('[VH1] [VH2] keeps versions, edits since the latest and who wrote them when the server is killed', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'collab-versions-kill-'))
    teardown.defer(() => rmSync(dataDir, { recursive: true, force: true }))
    const args = ['--log-level', 'warn', '--auth-secret', secret]
    server = await startServerProcess({ dataDir, args })
    const alice = await issueToken({ secret }, 'alice', { '*': 'write' }, 600)
    const bob = await issueToken({ secret }, 'bob', { '*': 'write' }, 600)
    const base = () => `${server?.url}/api/docs/crash/versions`

    const aliceClient = stockClient(server as never, 'crash', alice)
    await waitFor('alice to sync', () => aliceClient.provider.synced)
    aliceClient.text.insert(0, 'alice wrote this. ')
    await waitFor('alice stored', async () => (await textNow(server, alice)) === 'alice wrote this. ')
    expect((await call(base(), 'POST', json(alice), { name: 'alice only' })).status).toBe(201)
    aliceClient.provider.disconnect()

    // Bob's edit after the version: stored, acknowledged, but in no version when the server dies.
    const bobClient = stockClient(server as never, 'crash', bob)
    await waitFor('bob to sync', () => bobClient.provider.synced)
    bobClient.text.insert(bobClient.text.length, 'bob added this.')
    await waitFor('bob stored', async () => (await textNow(server, bob)) === 'alice wrote this. bob added this.')

    await server.stop('SIGKILL')
    bobClient.provider.disconnect()
    server = await startServerProcess({ dataDir, args })

    const listed = (await (await call(base(), 'GET', bearer(alice))).json()) as Array<{ id: string; name: string }>
    expect(listed.map((version) => [version.id, version.name])).toEqual([['1', 'alice only']])
    expect(await (await call(`${base()}/1`, 'GET', { ...bearer(alice), accept: 'text/plain' })).text()).toBe(
      'alice wrote this. ',
    )
    // The next version holds bob's edit and credits him: the server wrote down who edited with the edit itself.
    const next = (await (await call(base(), 'POST', json(alice), { name: 'after the crash' })).json()) as {
      id: string
      authors: string[]
    }
    expect(next.authors).toEqual(['bob'])
    expect(await (await call(`${base()}/${next.id}/authors`, 'GET', bearer(alice))).json()).toEqual([
      { text: 'alice wrote this. ', user: 'alice' },
      { text: 'bob added this.', user: 'bob' },
    ])
  }, 60_000)
})

async function textNow(server: ServerProcess | null, token: string): Promise<string> {
  const answer = await fetch(`${server?.url}/api/docs/crash`, { headers: { ...bearer(token), accept: 'text/plain' } })
  return answer.status === 200 ? answer.text() : ''
}
