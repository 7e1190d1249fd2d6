import { CloseCode, encodeSyncStep2, encodeSyncUpdate } from '@collab/protocol'
import { MemoryDocStore } from '@collab/storage'
import { deleteSetUpdate } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { defaultLimits } from '../src/limits.js'
import { admitUpdate, decodeUpdate } from '../src/update-admission.js'
import { RawClient, roomText, roundTrip, startTestServer, stockClient, synced, Teardown, waitFor } from './helpers.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

/** Two updates of one writer: the second depends on the first. */
function dependentUpdates(): { first: Uint8Array; second: Uint8Array; text: string } {
  const doc = new Y.Doc()
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  doc.getText('codemirror').insert(0, 'hello')
  doc.getText('codemirror').insert(5, ' world')
  const [first, second] = updates
  if (!first || !second) throw new Error('two updates expected')
  return { first, second, text: doc.getText('codemirror').toString() }
}

describe('[SY4] updates whose dependencies the server lacks', () => {
  it('[SY4] admitUpdate tells missing structs and missing deletions apart from what applies', () => {
    const doc = new Y.Doc()
    const { first, second } = dependentUpdates()
    const decode = (update: Uint8Array) => {
      const result = decodeUpdate(update, defaultLimits)
      if (!result.ok) throw new Error(result.refusal.reason)
      return result.decoded
    }
    expect(admitUpdate(doc, second, decode(second), null)).toMatchObject({ ok: false, refusal: { kind: 'missing' } })
    const deletion = deleteSetUpdate(new Map([[12345, [[0, 100_000]]]]))
    expect(admitUpdate(doc, deletion, decode(deletion), null)).toMatchObject({
      ok: false,
      refusal: { kind: 'missing' },
    })
    expect(admitUpdate(doc, first, decode(first), null)).toEqual({ ok: true, update: first })
    Y.applyUpdate(doc, first)
    expect(admitUpdate(doc, second, decode(second), null)).toEqual({ ok: true, update: second })
  })

  it('[SY4] is neither applied nor stored; the sender is asked with sync step 1 and its step 2 completes it', async () => {
    const store = new MemoryDocStore()
    const server = await startTestServer({ store }, teardown)
    const client = await RawClient.connect(`${server.url}/gaps`, teardown)
    await waitFor('the greeting', () => client.messagesOf('sync-step-1').length === 1)
    const { first, second, text } = dependentUpdates()
    client.send(encodeSyncUpdate(second))
    await roundTrip(client)
    expect(client.isOpen).toBe(true)
    expect(roomText(server, 'gaps')).toBe('')
    expect(await store.load('gaps')).toEqual([])
    // The greeting plus the request for what is missing.
    await waitFor('the request for what is missing', () => client.messagesOf('sync-step-1').length === 2)
    client.send(encodeSyncStep2(Y.mergeUpdates([first, second])))
    await waitFor('the completed text', () => roomText(server, 'gaps') === text)
  })

  it('[SY4] a delete set for clocks nobody sent leaves no lasting cost: nothing pending, also after a reload', async () => {
    const store = new MemoryDocStore()
    const server = await startTestServer({ store }, teardown)
    const writer = stockClient(server.url, 'phantom', teardown)
    await synced(writer)
    writer.text.insert(0, 'honest')
    const attacker = await RawClient.connect(`${server.url}/phantom`, teardown)
    const ranges: Array<[number, number]> = []
    for (let i = 0; i < 20_000; i++) ranges.push([i * 2, 1])
    attacker.send(encodeSyncUpdate(deleteSetUpdate(new Map([[424242, ranges]]))))
    await roundTrip(attacker)
    const room = server.sync.getRoom('phantom')
    expect(room?.doc.store.pendingDs).toBeNull()
    expect(room?.doc.store.pendingStructs).toBeNull()
    writer.text.insert(6, ' typing')
    await waitFor('the honest edit', () => roomText(server, 'phantom') === 'honest typing')
    for (const update of await store.load('phantom')) {
      const reloaded = new Y.Doc()
      Y.applyUpdate(reloaded, update)
      expect(reloaded.store.pendingDs).toBeNull()
    }
  })
})

describe('[LM7] bounds on one update', () => {
  it('[LM7] an update with more delete ranges than allowed is refused with 4400 and changes nothing', async () => {
    const server = await startTestServer(
      { store: new MemoryDocStore(), limits: { maxDeleteRangesPerUpdate: 100 } },
      teardown,
    )
    const writer = stockClient(server.url, 'ranges', teardown)
    await synced(writer)
    writer.text.insert(0, 'x'.repeat(500))
    await waitFor('the text', () => roomText(server, 'ranges')?.length === 500)
    const clientID = writer.doc.clientID
    const attacker = await RawClient.connect(`${server.url}/ranges`, teardown)
    const ranges: Array<[number, number]> = []
    for (let i = 0; i < 101; i++) ranges.push([i * 2, 1])
    attacker.send(encodeSyncUpdate(deleteSetUpdate(new Map([[clientID, ranges]]))))
    expect(await attacker.waitForClose()).toBe(CloseCode.BadMessage)
    expect(attacker.closeEvent?.reason).toContain('101 delete ranges in one update, at most 100 allowed')
    expect(roomText(server, 'ranges')).toBe('x'.repeat(500))
  })

  it('[LM7] an update with more structs than allowed is refused with 4400', async () => {
    const server = await startTestServer({ store: new MemoryDocStore(), limits: { maxStructsPerUpdate: 10 } }, teardown)
    const attacker = await RawClient.connect(`${server.url}/structs`, teardown)
    const doc = new Y.Doc()
    const map = doc.getMap('m')
    doc.transact(() => {
      for (let i = 0; i < 11; i++) map.set(`k${i}`, i)
    })
    attacker.send(encodeSyncUpdate(Y.encodeStateAsUpdate(doc)))
    expect(await attacker.waitForClose()).toBe(CloseCode.BadMessage)
    expect(attacker.closeEvent?.reason).toContain('11 structs in one update, at most 10 allowed')
  })
})
