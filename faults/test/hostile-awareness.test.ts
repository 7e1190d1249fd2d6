import { CloseCode, encodeQueryAwareness, encodeSyncStep1, type Message } from '@collab/protocol'
import { waitFor } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { nestedJson, rawAwarenessMessage } from './support/hostile-payloads.js'
import { type CloseRecord, openRawClient, type RawClient } from './support/raw-client.js'
import { report } from './support/report.js'
import { besiege, expectBystandersUnharmed, outcomeFigures, startSiege } from './support/siege.js'
import { Teardown } from './support/teardown.js'
import { sleep, waitOrNull } from './support/timing.js'

// Issue 13, findings 1 and 3: presence (awareness) is JSON from the client, and JSON can be deep or huge. A state
// nested 6,000 levels deep made the next join throw in JSON.stringify and end the process; a 15 MiB state was
// parsed before the 64 KiB limit was checked, stalling the server for seconds. Untrusted JSON must be bounded
// before it is parsed, and a failure on one connection's message closes that connection, never the process.

const teardown = new Teardown()
afterEach(() => teardown.run())

const emptyStateVector = new Uint8Array([0])
/** Client IDs of the attackers: their states must reach nobody. */
const nestedAttackerId = 6_000_001
const hugeAttackerId = 15_000_001

/** Whether any awareness message in `messages` carries an entry for `clientID`. */
function carries(messages: readonly Message[], clientID: number): boolean {
  return messages.some((m) => m.type === 'awareness' && m.entries.some((e) => e.clientID === clientID))
}

const awarenessCount = (client: RawClient) => client.received.filter((m) => m.type === 'awareness').length

describe('hostile awareness (issue 13)', () => {
  it('[PR1] [LM4] [AW4] a state nested 6,000 deep closes its sender with 4400; the next join and a query-awareness still work; nobody receives it', async () => {
    const siege = await startSiege(['nested', 'nested-elsewhere'], teardown)
    // A bare client on the attacked document that records every byte the server relays.
    const observer = await openRawClient(`${siege.server.wsUrl}/nested`, teardown)
    observer.ws.send(encodeSyncStep1(emptyStateVector))
    await waitFor('the observer greeted', () => observer.received.some((m) => m.type === 'sync-step-1'))

    const state = nestedJson(6_000)
    const message = rawAwarenessMessage(nestedAttackerId, 1, state)
    const seen: { attacker?: RawClient; joiner?: RawClient } = {}
    const join = { opened: false, greeted: false, queryAnswered: false, error: 'none' }
    const outcome = await besiege(siege, async () => {
      const attacker = await openRawClient(`${siege.server.wsUrl}/nested`, teardown)
      seen.attacker = attacker
      attacker.ws.send(message)
      await Promise.race([attacker.closed, sleep(2_000)])
      // What used to end the process: the next join is greeted with everyone's presence, encoded afresh.
      const joiner = await openRawClient(`${siege.server.wsUrl}/nested`, teardown).catch((err: unknown) => {
        join.error = String(err)
        return null
      })
      if (!joiner) return
      seen.joiner = joiner
      join.opened = true
      joiner.ws.send(encodeSyncStep1(emptyStateVector))
      const greeted = () => joiner.received.some((m) => m.type === 'sync-step-1')
      join.greeted = (await waitOrNull('the next join greeted', greeted, 3_000)) !== null
      if (!join.greeted) return
      // The greeting's presence (the bystanders are present) comes with it; the query must be answered on top.
      await sleep(100)
      const before = awarenessCount(joiner)
      joiner.ws.send(encodeQueryAwareness())
      const answered = () => awarenessCount(joiner) > before
      join.queryAnswered = (await waitOrNull('query-awareness answered', answered, 3_000)) !== null
    })
    const closed = seen.attacker?.closeRecord ?? null
    const holders = await Promise.all(
      siege.bystanders.list.map((b) => b.call('awarenessHolders', { clientID: nestedAttackerId })),
    )
    const receivedBy = [
      ...(carries(observer.received, nestedAttackerId) ? ['raw observer'] : []),
      ...(seen.joiner && carries(seen.joiner.received, nestedAttackerId) ? ['next joiner'] : []),
      ...holders.flat(),
    ]
    report('hostile awareness, nested 6,000 deep', {
      stateBytes: state.length,
      attackerClose: closed ? `${closed.code} ${closed.reason}` : 'still open after 2 s',
      nextJoinOpened: join.opened,
      nextJoinGreeted: join.greeted,
      queryAwarenessAnswered: join.queryAnswered,
      joinError: join.error,
      stateReceivedBy: receivedBy.join(',') || 'nobody',
      ...outcomeFigures(outcome),
    })
    expect.soft(closed?.code, 'close code of the sender of the nested state').toBe(CloseCode.BadMessage)
    expect.soft(join, 'the next join and its query-awareness').toEqual({
      opened: true,
      greeted: true,
      queryAnswered: true,
      error: 'none',
    })
    expect.soft(receivedBy, 'clients that received the nested state').toEqual([])
    expectBystandersUnharmed(outcome)
  }, 60_000)

  it('[LM4] a 15 MiB awareness message is closed with 4400 within a second, unparsed; bystanders keep typing and stay connected', async () => {
    const siege = await startSiege(['huge-awareness', 'huge-elsewhere'], teardown)
    // Nested JSON, as in the finding: the costliest thing to parse for its size. Just under the 16 MiB message
    // limit, so that only the awareness limit (64 KiB) can refuse it.
    const message = rawAwarenessMessage(hugeAttackerId, 1, nestedJson(15 * 512 * 1024 - 16))
    const seen: { close?: CloseRecord; closedMs?: number } = {}
    const outcome = await besiege(siege, async () => {
      const attacker = await openRawClient(`${siege.server.wsUrl}/huge-awareness`, teardown)
      const sentAt = Date.now()
      attacker.ws.send(message)
      const record = await Promise.race([attacker.closed, sleep(10_000).then(() => null)])
      if (record) {
        seen.close = record
        seen.closedMs = record.at - sentAt
      }
    })
    const close = seen.close ?? null
    const closedMs = seen.closedMs ?? null
    report('hostile awareness, 15 MiB', {
      messageBytes: message.length,
      attackerClose: close ? `${close.code} ${close.reason}` : 'still open after 10 s',
      closedAfterMs: closedMs ?? 'never',
      ...outcomeFigures(outcome),
    })
    expect.soft(close?.code, 'close code of the sender of the 15 MiB awareness message').toBe(CloseCode.BadMessage)
    expect.soft(closedMs ?? Number.POSITIVE_INFINITY, 'ms from sending to the close').toBeLessThan(1_000)
    expectBystandersUnharmed(outcome)
  }, 60_000)
})
