import type { LevelDocStore } from '@collab/storage'
import { afterEach, describe, expect, it } from 'vitest'
import {
  openLevelStore,
  roomText,
  type StockClient,
  socketOf,
  startTestServer,
  stockClient,
  synced,
  Teardown,
  type TestServer,
  tempDir,
  waitFor,
} from './helpers.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

async function startOnLevel(dataDir: string, port = 0): Promise<{ server: TestServer; store: LevelDocStore }> {
  const store = await openLevelStore(dataDir, teardown)
  const server = await startTestServer({ store }, teardown, port)
  return { server, store }
}

async function connectAll(server: TestServer, docName: string, count: number): Promise<StockClient[]> {
  const clients = Array.from({ length: count }, () => stockClient(server.url, docName, teardown))
  await Promise.all(clients.map((client) => synced(client)))
  return clients
}

function converged(clients: readonly StockClient[], server: TestServer, docName: string): () => boolean {
  return () => {
    const expected = roomText(server, docName)
    return clients.every((client) => client.text.toString() === expected)
  }
}

describe('the stock y-websocket 3.1.0 client', () => {
  it('[SY1] [SY2] [SY3] two clients converge on the codemirror text', async () => {
    const { server } = await startOnLevel(tempDir(teardown))
    const [alice, bob] = await connectAll(server, 'pair', 2)
    alice!.text.insert(0, 'hello')
    await waitFor('bob to see hello', () => bob!.text.toString() === 'hello')
    bob!.text.insert(5, ' world')
    await waitFor('alice to see world', () => alice!.text.toString() === 'hello world')

    // Concurrent edits at the same position resolve the same way everywhere.
    alice!.text.insert(0, 'A')
    bob!.text.insert(0, 'B')
    await waitFor('convergence', converged([alice!, bob!], server, 'pair'))
    expect(alice!.text.toString()).toHaveLength('hello world'.length + 2)
  })

  it('[SY2] a client that joins later receives the whole document', async () => {
    const { server } = await startOnLevel(tempDir(teardown))
    const [writer] = await connectAll(server, 'late', 1)
    for (let i = 0; i < 50; i++) writer!.text.insert(writer!.text.length, `${i} `)
    await waitFor('the server to apply every edit', () => roomText(server, 'late') === writer!.text.toString())
    const [late] = await connectAll(server, 'late', 1)
    expect(late!.text.toString()).toBe(writer!.text.toString())
  })

  it('[SY3] three clients typing at once converge, and the server holds the same text', async () => {
    const { server } = await startOnLevel(tempDir(teardown))
    const clients = await connectAll(server, 'trio', 3)
    for (let round = 0; round < 20; round++) {
      clients.forEach((client, i) => {
        const text = client.text
        text.insert(round % 2 === 0 ? 0 : text.length, `${i}:${round} `)
        if (round % 5 === 4 && text.length > 3) text.delete(1, 2)
      })
      // Let some messages cross so the edits really interleave rather than arrive as three blocks.
      if (round % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 2))
    }
    await waitFor('three clients to converge', converged(clients, server, 'trio'))
    expect(roomText(server, 'trio')).toMatch(/0:19/)
  })

  it('[AW1] awareness states reach the other clients', async () => {
    const { server } = await startOnLevel(tempDir(teardown))
    const clients = await connectAll(server, 'presence', 3)
    clients.forEach((client, i) => {
      client.provider.awareness.setLocalStateField('user', { name: `user${i}` })
    })
    await waitFor('every client to see every name', () =>
      clients.every((observer) =>
        clients.every((client, i) => {
          const state = observer.provider.awareness.getStates().get(client.doc.clientID)
          return JSON.stringify(state?.user) === JSON.stringify({ name: `user${i}` })
        }),
      ),
    )
  })

  it('[AW3] the server removes the presence of a client whose connection drops', async () => {
    const { server } = await startOnLevel(tempDir(teardown))
    const [leaver, stayer] = await connectAll(server, 'drop', 2)
    leaver!.provider.awareness.setLocalStateField('user', { name: 'leaver' })
    const leaverId = leaver!.doc.clientID
    await waitFor('the state to arrive', () => stayer!.provider.awareness.getStates().has(leaverId))

    // Kill the TCP connection without the goodbye a provider sends on disconnect(): only the server can tell.
    leaver!.provider.shouldConnect = false
    socketOf(leaver!).terminate()
    await waitFor('the removal to arrive', () => !stayer!.provider.awareness.getStates().has(leaverId))
    expect(server.sync.connectionCount).toBe(1)
  })

  it('[AW3] a client that leaves normally disappears for the others', async () => {
    const { server } = await startOnLevel(tempDir(teardown))
    const [leaver, stayer] = await connectAll(server, 'leave', 2)
    leaver!.provider.awareness.setLocalStateField('user', { name: 'leaver' })
    const leaverId = leaver!.doc.clientID
    await waitFor('the state to arrive', () => stayer!.provider.awareness.getStates().has(leaverId))
    leaver!.destroy()
    await waitFor('the removal to arrive', () => !stayer!.provider.awareness.getStates().has(leaverId))
  })

  it('content survives a restart of the server on the same LevelDB directory', async () => {
    const dataDir = tempDir(teardown)
    const first = await startOnLevel(dataDir)
    const [writer] = await connectAll(first.server, 'durable', 1)
    writer!.text.insert(0, 'written before the restart: ünïcødé 🦄')
    await waitFor('the server to apply the edit', () => roomText(first.server, 'durable') === writer!.text.toString())
    writer!.destroy()
    await first.server.close()
    await first.store.close()

    const second = await startOnLevel(dataDir)
    const [reader] = await connectAll(second.server, 'durable', 1)
    expect(reader!.text.toString()).toBe('written before the restart: ünïcødé 🦄')
  })

  it('a connected client reconnects to the restarted server and keeps editing', async () => {
    const dataDir = tempDir(teardown)
    const first = await startOnLevel(dataDir)
    const [editor] = await connectAll(first.server, 'restart', 1)
    editor!.text.insert(0, 'before')
    await waitFor('the first edit', () => roomText(first.server, 'restart') === 'before')
    const { port } = new URL(first.server.url)
    await first.server.close()
    await first.store.close()
    await waitFor('the provider to notice the shutdown', () => !editor!.provider.wsconnected)
    // Typed while the server is down: stays local until the provider reconnects.
    editor!.text.insert(editor!.text.length, ' offline')

    // The provider reconnects to the URL it knows, so the new server takes the old port.
    const { server: second } = await startOnLevel(dataDir, Number(port))
    await waitFor(
      'the offline edit to reach the restarted server',
      () => roomText(second, 'restart') === 'before offline' && editor!.provider.synced,
    )
  })
})
