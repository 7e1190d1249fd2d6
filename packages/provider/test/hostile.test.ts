import { decodeMessage, encodeSyncUpdate, type Message } from '@collab/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { createClient, startTestServer, Teardown, waitFor } from './harness.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

/** A bare connection that records the awareness entries it receives. */
async function observe(
  url: string,
): Promise<{ ws: WebSocket; entries: Array<Extract<Message, { type: 'awareness' }>['entries'][number]> }> {
  const ws = new WebSocket(url)
  teardown.defer(() => ws.terminate())
  const entries: Array<Extract<Message, { type: 'awareness' }>['entries'][number]> = []
  ws.on('message', (data) => {
    const decoded = decodeMessage(data as Uint8Array)
    if (decoded.ok && decoded.message.type === 'awareness') entries.push(...decoded.message.entries)
  })
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  return { ws, entries }
}

describe('CollabProvider against hostile peers', () => {
  it('[AW3] keeps its presence after another client wrote with its document client ID and it reconnected', async () => {
    const server = await startTestServer(teardown)
    const victim = createClient(server.url, 'doc', teardown)
    victim.provider.awareness.setLocalStateField('name', 'victim')
    await waitFor('synced', () => victim.provider.status.connection === 'synced')
    const presenceId = victim.provider.awareness.clientID

    // Anyone may write with any client ID. Yjs in the victim's document notices its own ID in a remote update and
    // picks a new one; the awareness keeps the old one.
    const forger = new Y.Doc()
    Y.applyUpdate(forger, Y.encodeStateAsUpdate(victim.doc))
    forger.clientID = victim.doc.clientID
    const before = Y.encodeStateVector(forger)
    forger.getText('codemirror').insert(0, 'forged ')
    const attacker = await observe(`${server.url}/doc`)
    attacker.ws.send(encodeSyncUpdate(Y.encodeStateAsUpdate(forger, before)))
    await waitFor('the forged edit', () => victim.text.toString() === 'forged ')
    forger.destroy()
    expect(victim.doc.clientID).not.toBe(presenceId)

    // A network blip: the victim reconnects, and everyone must see it again.
    victim.provider.disconnect()
    const observer = await observe(`${server.url}/doc`)
    victim.provider.connect()
    await waitFor('synced again', () => victim.provider.status.connection === 'synced')
    expect(victim.provider.awareness.getLocalState()).toEqual({ name: 'victim' })
    await waitFor("the victim's presence after the reconnect", () =>
      observer.entries.some((entry) => entry.clientID === presenceId && entry.state !== null),
    )
  })
})
