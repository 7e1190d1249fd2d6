import { CloseCode, decodeMessage, encodeSyncUpdate } from '@collab/protocol'
import { deleteSetUpdate, startServerProcess, waitFor } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { describeLatency, type LatencyFigures } from './support/bystanders.js'
import { createFaultClient } from './support/clients.js'
import { manyStructsUpdate, scatteredDeleteUpdate } from './support/hostile-payloads.js'
import { type CloseRecord, openRawClient, type RawClient } from './support/raw-client.js'
import { report } from './support/report.js'
import { fetchServedDoc } from './support/server-health.js'
import { besiege, expectBystandersUnharmed, outcomeFigures, startSiege } from './support/siege.js'
import { readStoredDoc } from './support/stored.js'
import { Teardown } from './support/teardown.js'
import { sleep, waitOrNull } from './support/timing.js'

// Issue 13, finding 4: valid Yjs updates with lasting costs. Yjs keeps a delete set for clocks it does not have
// and re-applies it on every later update, so 0.8 MB of it made every honest keystroke cost 62-132 ms instead of
// 5 ms, also after a restart; one update with a million scattered deletes stalled the server for 5 s. An update
// whose dependencies the server lacks is neither applied nor stored, the sender is asked for what is missing
// ([SY4]); the structs and delete ranges of one update are capped ([LM7]).

const teardown = new Teardown()
afterEach(() => teardown.run())

/** A client ID nobody in these tests writes with. */
const absentClient = 12_345

/** Sync step 1 messages (the server asking "what do you have?") received so far. */
const stepOnes = (client: RawClient) => client.raw.filter((m) => m[0] === 0 && m[1] === 0)

/**
 * The bound on "costs what it cost before": twice the median latency, or 10 ms more, whichever is larger. On
 * loopback a keystroke's median is 1-3 ms, so twice that is within the noise of two busy cores; the finding's cost
 * was 62-132 ms per keystroke, and 20 ms more per keystroke after a restart was measured here before the fix.
 */
const noCostlierThan = (beforeMs: number) => Math.max(2 * beforeMs, beforeMs + 10)

const p50Of = (figures: readonly LatencyFigures[], doc: string) => figures.find((f) => f.doc === doc)?.p50Ms ?? -1

describe('updates with lasting costs (issue 13)', () => {
  it('[SY4] a delete set for clocks the server lacks is neither applied nor stored: the sender gets sync step 1 and stays connected', async () => {
    const siege = await startSiege(['gaps', 'gaps-elsewhere'], teardown)
    const attacker = await openRawClient(`${siege.server.wsUrl}/gaps`, teardown)
    await waitFor('the attacker greeted with sync step 1', () => stepOnes(attacker).length === 1)
    // Valid Yjs: deletes clocks 0..100000 of a client that never wrote anything.
    const update = deleteSetUpdate(new Map([[absentClient, [[0, 100_001]]]]))
    const outcome = await besiege(siege, async () => {
      attacker.ws.send(encodeSyncUpdate(update))
      await waitOrNull('a sync step 1 in answer', () => stepOnes(attacker).length > 1, 3_000)
      // The connection must stay open: asking for what is missing is not a refusal.
      await sleep(1_000)
    })
    const closedDuringAttack = attacker.closeRecord
    const served = await fetchServedDoc(siege.server.url, 'gaps')
    const servedNames = served.state ? Y.decodeUpdate(served.state).ds.clients.has(absentClient) : false
    served.doc?.destroy()
    expect(await siege.server.stop('SIGTERM')).toBe(0)
    const stored = await readStoredDoc(siege.dataDir, 'gaps')
    const storedHoldsIt = stored.store.pendingDs !== null
    stored.destroy()
    const step1 = stepOnes(attacker)[1] ?? null
    // [0, 0, <state vector>]: message type sync, sub-type step 1, then a state vector that decodes (the bystanders
    // keep changing the document, so its value is not compared).
    const decoded = step1 ? decodeMessage(step1) : null
    const askedVector = decoded?.ok && decoded.message.type === 'sync-step-1' ? decoded.message.stateVector : null
    report('delete set for missing clocks', {
      updateBytes: update.length,
      answer: step1 ? `[${[...step1.slice(0, 8)].join(',')}${step1.length > 8 ? ',...' : ''}]` : 'none',
      attackerClose: closedDuringAttack ? `${closedDuringAttack.code} ${closedDuringAttack.reason}` : 'open',
      servedStateNamesIt: servedNames,
      storedAsPending: storedHoldsIt,
      ...outcomeFigures(outcome),
    })
    expect.soft(askedVector !== null, 'the sender received a sync step 1 asking for what is missing').toBe(true)
    expect.soft(closedDuringAttack, 'the sender is not disconnected').toBeNull()
    expect.soft(servedNames, 'the served document names the missing clocks (applied)').toBe(false)
    expect.soft(storedHoldsIt, 'the stored document holds the delete set (stored)').toBe(false)
    expectBystandersUnharmed(outcome)
  }, 60_000)

  it('[SY4] after 0.8 MB of delete sets for missing clocks, an honest keystroke costs what it cost before, also after a restart', async () => {
    const siege = await startSiege(['costly', 'costly-elsewhere'], teardown, { everyMs: 25 })
    const before = await siege.bystanders.measureFor(4_000)
    // 20 updates of 12,500 one-clock ranges each (below any sane per-update cap), for clients that never wrote:
    // 0.8 MB of delete set, as in the finding.
    const updates = Array.from({ length: 20 }, (_, i) => scatteredDeleteUpdate(20_000_000 + i, 12_500))
    const attacker = await openRawClient(`${siege.server.wsUrl}/costly`, teardown)
    await waitFor('the attacker greeted', () => stepOnes(attacker).length === 1)
    const outcome = await besiege(siege, async () => {
      for (const update of updates) attacker.ws.send(encodeSyncUpdate(update))
      // Each is answered with a sync step 1 by the fixed server; give the old one the same time to take them in.
      await waitOrNull('every update answered', () => stepOnes(attacker).length > updates.length, 5_000)
    })
    attacker.ws.close()
    const after = await siege.bystanders.measureFor(4_000)

    const port = siege.server.port
    expect(await siege.server.stop('SIGTERM')).toBe(0)
    siege.server = await startServerProcess({ dataDir: siege.dataDir, port, args: ['--log-level', 'warn'] })
    await siege.bystanders.ready(30_000)
    const restarted = await siege.bystanders.measureFor(4_000)

    report('delete sets for missing clocks, keystroke cost', {
      deleteSetBytes: updates.reduce((sum, u) => sum + u.length, 0),
      answered: stepOnes(attacker).length - 1,
      before: describeLatency(before),
      after: describeLatency(after),
      afterRestart: describeLatency(restarted),
      ...outcomeFigures(outcome),
    })
    for (const doc of ['costly', 'costly-elsewhere']) {
      const base = p50Of(before, doc)
      expect
        .soft(p50Of(after, doc), `median keystroke on "${doc}" after the attack (before: ${base} ms)`)
        .toBeLessThanOrEqual(noCostlierThan(base))
      expect
        .soft(p50Of(restarted, doc), `median keystroke on "${doc}" after a restart (before: ${base} ms)`)
        .toBeLessThanOrEqual(noCostlierThan(base))
    }
    expectBystandersUnharmed(outcome)
  }, 90_000)

  it('[LM7] an update with a million scattered delete ranges, and one with a million structs, are refused with 4400 without stalling the server', async () => {
    const siege = await startSiege(['scattered', 'scattered-elsewhere'], teardown)
    // Two million characters of one author, so that a million one-character deletes all name content that exists.
    const author = createFaultClient(siege.server.wsUrl, 'scattered', teardown, { name: 'author' })
    await waitFor('the author to sync', () => author.provider.status.connection === 'synced', 10_000)
    const length = 2_000_000
    author.text.insert(0, 'ab'.repeat(length / 2))
    await waitFor('the author saved', () => !author.provider.status.unsaved, 30_000)
    await waitFor(
      'the bystanders to hold it',
      async () => (await siege.bystanders.list.find((b) => b.doc === 'scattered')!.call('readerLength', {})) >= length,
      30_000,
    )
    // Built before the bystanders start measuring: building them takes this process a second.
    const deletes = encodeSyncUpdate(scatteredDeleteUpdate(author.doc.clientID, 1_000_000))
    const structs = encodeSyncUpdate(manyStructsUpdate(1_000_000))
    const closes: Record<string, CloseRecord | null> = { deletes: null, structs: null }
    const outcome = await besiege(siege, async () => {
      for (const [kind, message] of [
        ['deletes', deletes],
        ['structs', structs],
      ] as const) {
        const attacker = await openRawClient(`${siege.server.wsUrl}/scattered`, teardown)
        attacker.ws.send(message)
        closes[kind] = await Promise.race([attacker.closed, sleep(15_000).then(() => null)])
      }
    })
    const served = await fetchServedDoc(siege.server.url, 'scattered').catch((err: unknown) => String(err))
    const servedLength = typeof served === 'string' ? served : (served.doc?.getText('codemirror').length ?? -1)
    if (typeof served !== 'string') served.doc?.destroy()
    report('a million deletes, a million structs', {
      deletesBytes: deletes.length,
      structsBytes: structs.length,
      deletesClose: closes.deletes ? `${closes.deletes.code} ${closes.deletes.reason}` : 'open after 15 s',
      structsClose: closes.structs ? `${closes.structs.code} ${closes.structs.reason}` : 'open after 15 s',
      servedLength,
      ...outcomeFigures(outcome),
    })
    expect.soft(closes.deletes?.code, 'close code for a million delete ranges').toBe(CloseCode.BadMessage)
    expect.soft(closes.structs?.code, 'close code for a million structs').toBe(CloseCode.BadMessage)
    // The bystander on this document typed a little more; applied, the deletes would have removed a million.
    expect.soft(servedLength, 'length of the served text (the deletes were not applied)').toBeGreaterThanOrEqual(length)
    expectBystandersUnharmed(outcome)
  }, 120_000)
})
