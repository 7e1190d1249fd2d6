import { CloseCode } from '@collab/protocol'
import { LevelDocStore } from '@collab/storage'
import { waitFor } from '@collab/test-support'
import { ClassicLevel } from 'classic-level'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { converged, createFaultClient } from './support/clients.js'
import { FailingStore } from './support/faulty-stores.js'
import { capturingLogger, errorLevel, startInProcessServer, watchClose } from './support/in-process.js'
import { report } from './support/report.js'
import { countMissing, readStoredDoc } from './support/stored.js'
import { Teardown, tempDir } from './support/teardown.js'
import { sleep, within } from './support/timing.js'

// Storage that fails (a full disk, an I/O error) or holds data that no longer reads back (a damaged record) must
// never be papered over: no acknowledgement for what was not stored, a log line an operator can act on, clients
// told to retry later (4503), and never an empty document served in place of an unreadable one ([DU3]).

const teardown = new Teardown()
afterEach(() => teardown.run())

// Reconnect delays short enough that a few attempts happen while the fault lasts.
const backoff = { baseMs: 100, maxMs: 400 }

describe('storage write failure', () => {
  it('[DU3] stops acknowledging, logs the document, closes with 4503, and recovers by itself when writes succeed', async () => {
    const dataDir = tempDir(teardown)
    const level = await LevelDocStore.open({ path: dataDir })
    teardown.defer(() => level.close())
    const store = new FailingStore(level)
    const { logger, lines } = capturingLogger()
    const server = await startInProcessServer({ store, logger, roomGraceMs: 200 }, teardown)
    const clients = ['ada', 'grace'].map((name) =>
      createFaultClient(server.url, 'failing', teardown, { name, backoff }),
    )
    await waitFor('the clients to sync', () => converged(clients), 10_000)
    clients[0]!.text.insert(0, 'saved before the failure. ')
    await waitFor('the first edit saved everywhere', () => converged(clients))
    const watcher = await watchClose(`${server.url}/failing`, teardown)

    store.failing = true
    const failedAt = Date.now()
    clients[0]!.text.insert(clients[0]!.text.length, 'typed while the disk fails. ')
    clients[1]!.text.insert(0, 'also typed while it fails. ')
    const { code, at: closedAt } = await within(watcher.closed, 5_000, 'the server to close the document')
    expect(code).toBe(CloseCode.RetryLater)
    const closedMs = closedAt - failedAt
    // The failure lasts a while: the clients come back, resend, keep typing, and are refused again, never told
    // "saved".
    let keystrokes = 0
    const typing = setInterval(() => {
      const client = clients[keystrokes++ % clients.length]!
      client.text.insert(client.text.length, `${client.name}:${keystrokes} `)
    }, 50)
    await sleep(1_500)
    clearInterval(typing)
    for (const client of clients) {
      const told = client.statuses.filter((s) => s.at >= failedAt && !s.status.unsaved)
      expect(told, `${client.name} was told its edits were saved while nothing could be stored`).toEqual([])
      expect(client.provider.status.unsaved).toBe(true)
    }
    const failures = lines.filter((line) => line.level === errorLevel && line.doc === 'failing')
    expect(failures.length).toBeGreaterThan(0)
    expect(failures[0]!.err).toMatch(/EIO/)
    expect(failures[0]!.msg).toMatch(/storage/)
    const refusedWrites = store.refused

    store.failing = false
    const healedAt = Date.now()
    await waitFor('the clients to come back with everything saved', () => converged(clients), 10_000)
    const recoveredMs = Date.now() - healedAt
    const text = clients[0]!.text.toString()
    expect(text).toContain('saved before the failure. ')
    expect(text).toContain('typed while the disk fails. ')
    expect(text).toContain('also typed while it fails. ')

    await server.close()
    await level.close()
    const stored = await readStoredDoc(dataDir, 'failing')
    const lost = clients.reduce((sum, c) => sum + countMissing(stored, c.localUpdates), 0)
    const storedText = stored.getText('codemirror').toString()
    stored.destroy()
    expect(lost).toBe(0)
    expect(storedText).toBe(text)
    report('storage write failure', {
      closed4503AfterMs: closedMs,
      errorLogLines: failures.length,
      refusedWrites,
      keystrokesDuringFailure: keystrokes,
      recoveredAfterHealMs: recoveredMs,
      edits: clients.reduce((sum, c) => sum + c.localUpdates.length, 0),
      editsLost: lost,
    })
  })
})

describe('unreadable stored document', () => {
  it('[DU3] is refused with 4503 and a clear log line, and is never replaced by an empty one', async () => {
    const dataDir = tempDir(teardown)
    const seeded = await LevelDocStore.open({ path: dataDir })
    for (const [name, words] of [
      ['damaged', ['precious ', 'words']],
      ['healthy', ['fine ', 'words']],
    ] as const) {
      const doc = new Y.Doc()
      const appends: Array<Promise<void>> = []
      doc.on('update', (update: Uint8Array) => appends.push(seeded.append(name, update)))
      for (const word of words) doc.getText('codemirror').insert(doc.getText('codemirror').length, word)
      await Promise.all(appends)
      doc.destroy()
    }
    await seeded.close()

    // Bit rot in the last record of "damaged": one payload byte flipped, the checksum no longer matches.
    const prefix = 'd\u0000damaged\u0000'
    const db = new ClassicLevel<string, Uint8Array>(dataDir, { keyEncoding: 'utf8', valueEncoding: 'view' })
    const original = new Map<string, Uint8Array>()
    for await (const [key, value] of db.iterator({ gte: prefix, lt: 'd\u0000damaged\u0001' })) original.set(key, value)
    expect(original.size).toBeGreaterThan(0)
    const [lastKey, lastValue] = [...original].at(-1)!
    const damaged = lastValue.slice()
    damaged[damaged.length - 1]! ^= 0xff
    await db.put(lastKey, damaged)
    original.set(lastKey, damaged)
    await db.close()

    const store = await LevelDocStore.open({ path: dataDir })
    teardown.defer(() => store.close())
    const { logger, lines } = capturingLogger()
    const server = await startInProcessServer({ store, logger, roomGraceMs: 200 }, teardown)
    const watcher = await watchClose(`${server.url}/damaged`, teardown)
    const refusedAt = Date.now()
    const { code } = await within(watcher.closed, 5_000, 'the server to refuse the document')
    expect(code).toBe(CloseCode.RetryLater)
    const refusedMs = Date.now() - refusedAt
    // A client with its own edits keeps trying to write them into the damaged document.
    const writer = createFaultClient(server.url, 'damaged', teardown, { name: 'writer', backoff })
    writer.text.insert(0, 'this must not replace the document')
    const healthy = createFaultClient(server.url, 'healthy', teardown, { name: 'reader' })
    await waitFor('the healthy document to load', () => healthy.text.toString() === 'fine words', 5_000)
    await sleep(1_500)
    expect(writer.statuses.some((s) => s.status.connection === 'synced')).toBe(false)
    expect(writer.provider.status.unsaved).toBe(true)
    const refusals = lines.filter((line) => line.level === errorLevel && line.doc === 'damaged')
    expect(refusals.length).toBeGreaterThan(0)
    expect(refusals[0]!.err).toMatch(/"damaged" cannot be read.*checksum/)
    writer.destroy()
    healthy.destroy()
    await server.close()
    await store.close()

    const reopened = new ClassicLevel<string, Uint8Array>(dataDir, { keyEncoding: 'utf8', valueEncoding: 'view' })
    const after = new Map<string, Uint8Array>()
    for await (const [key, value] of reopened.iterator({ gte: prefix, lt: 'd\u0000damaged\u0001' }))
      after.set(key, value)
    await reopened.close()
    expect([...after.keys()]).toEqual([...original.keys()])
    for (const [key, value] of original) expect(Buffer.from(after.get(key)!).equals(Buffer.from(value))).toBe(true)
    report('unreadable document', {
      refused4503AfterMs: refusedMs,
      errorLogLines: refusals.length,
      recordsUnchanged: after.size,
      healthyDocumentServed: true,
    })
  })
})
