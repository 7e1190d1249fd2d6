import type { RelayPeer } from '@collab/server'
import { type RedisServer, startRedis } from '@collab/test-services'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RedisDocRelay, type RedisDocRelayOptions } from '../src/index.js'
import { partitionKey } from '../src/partition-membership.js'
import { decodeEntry, EntryKind, encodeEntry, type StreamEntry } from '../src/stream-entry.js'
import { sleep, Teardown, waitFor } from './harness.js'

/**
 * An instance publishes a document's updates and presence only while another instance has that document loaded
 * (ARCHITECTURE.md, "Several instances"). These tests drive relays directly, with peers that record what reaches
 * them, and read the shared streams to see what was published.
 */

/** A room as the relay sees it: records every call. */
class RecordingPeer implements RelayPeer {
  readonly updates: Uint8Array[] = []
  readonly awarenessFrom: string[] = []
  readonly resyncs: string[] = []
  present: Uint8Array | null = null

  update(update: Uint8Array): void {
    this.updates.push(update)
  }
  awareness(instanceId: string): void {
    this.awarenessFrom.push(instanceId)
  }
  localAwareness(): Uint8Array | null {
    return this.present
  }
  instanceGone(): void {}
  resync(reason: string): void {
    this.resyncs.push(reason)
  }
  deleted(): void {}
}

const teardown = new Teardown()
let redis: RedisServer
let inspector: Redis
let prefixCount = 0

beforeAll(async () => {
  redis = await startRedis()
  teardown.defer(() => redis.close())
  inspector = new Redis(redis.url)
  teardown.defer(() => inspector.quit().then(() => undefined))
})
afterAll(() => teardown.run())

/** A key prefix of its own for each test, so that no test reads another's entries. */
function freshPrefix(): string {
  return `interest${prefixCount++}:`
}

async function openRelay(id: string, keyPrefix: string, options: Partial<RedisDocRelayOptions> = {}) {
  const relay = await RedisDocRelay.open({ url: redis.url, instanceId: id, keyPrefix, ...options })
  teardown.defer(() => relay.close())
  return relay
}

/** Every entry of `doc`'s partition stream, decoded, oldest first. */
async function entriesOf(keyPrefix: string, doc: string): Promise<StreamEntry[]> {
  const raw = await inspector.xrangeBuffer(partitionKey(keyPrefix, 32, doc), '-', '+')
  return raw.flatMap(([, fields]) => {
    const decoded = decodeEntry(fields)
    return decoded.ok ? [decoded.entry] : []
  })
}

function kindsBy(entries: StreamEntry[], from: string): string[] {
  return entries.filter((entry) => entry.from === from).map((entry) => entry.kind)
}

/** Writes `entry` as another instance would. */
async function append(key: string, entry: StreamEntry): Promise<void> {
  await inspector.xadd(key, '*', ...encodeEntry(entry))
}

const update = (byte: number) => new Uint8Array([byte, byte])

describe('publishing only where another instance listens', () => {
  it('publishes nothing of a document only this instance has, until another loads it, and stops once it left', async () => {
    const prefix = freshPrefix()
    const a = await openRelay('a', prefix)
    const peerA = new RecordingPeer()
    peerA.present = new Uint8Array([1])
    const onA = a.join('solo', peerA)
    await onA.ready
    for (let i = 0; i < 20; i++) onA.publishUpdate(update(i))
    onA.publishAwareness(new Uint8Array([7]))
    await sleep(300)
    // Only the Query of the join: no update and no presence went to Redis.
    expect(kindsBy(await entriesOf(prefix, 'solo'), 'a')).toEqual(['q'])

    const b = await openRelay('b', prefix)
    const peerB = new RecordingPeer()
    const onB = b.join('solo', peerB)
    await onB.ready
    // a answers b's Query: here, the updates it did not publish are in the store (read them), and who is here.
    await waitFor('a to answer b', async () => kindsBy(await entriesOf(prefix, 'solo'), 'a').includes('i'))
    await waitFor('b to hear about a', () => peerB.awarenessFrom.includes('a') && peerB.resyncs.length > 0)
    expect(peerB.resyncs).toEqual(['asked by a'])
    onA.publishUpdate(update(100))
    await waitFor('the update to reach b', () => peerB.updates.some((u) => u[0] === 100))

    onB.leave()
    await waitFor('b to say it left', async () => kindsBy(await entriesOf(prefix, 'solo'), 'b').includes('l'))
    await sleep(300)
    const before = (await entriesOf(prefix, 'solo')).length
    onA.publishUpdate(update(101))
    await sleep(300)
    expect((await entriesOf(prefix, 'solo')).length).toBe(before)
  })

  it('gets an update stored before the instances found each other to the other, through the store', async () => {
    const prefix = freshPrefix()
    const a = await openRelay('a', prefix)
    const b = await openRelay('b', prefix)
    const peerA = new RecordingPeer()
    const onA = a.join('race', peerA)
    await onA.ready
    const peerB = new RecordingPeer()
    const onB = b.join('race', peerB)
    await onB.ready
    // b may have read the store before this update was stored, and a has not read b's Query yet: a does not
    // publish it, so it must ask b to read the store again once it learns that b has the document.
    onA.publishUpdate(update(5))
    await waitFor(
      'the update or a resync to reach b',
      () => peerB.updates.some((u) => u[0] === 5) || peerB.resyncs.includes('asked by a'),
    )
    // And from then on the updates themselves cross, both ways.
    onA.publishUpdate(update(6))
    onB.publishUpdate(update(7))
    await waitFor(
      'both updates to cross',
      () => peerB.updates.some((u) => u[0] === 6) && peerA.updates.some((u) => u[0] === 7),
    )
  })

  it('publishes everything while an instance of an older version is alive, and asks it to read what it missed', async () => {
    const prefix = freshPrefix()
    const a = await openRelay('a', prefix)
    const onA = a.join('mixed', new RecordingPeer())
    await onA.ready
    onA.publishUpdate(update(1))
    await sleep(200)
    expect(kindsBy(await entriesOf(prefix, 'mixed'), 'a')).toEqual(['q'])
    // An older version's heartbeat does not say it publishes by interest.
    await append(`${prefix}instances`, { kind: EntryKind.Heartbeat, from: 'old' })
    await waitFor('a to ask the old instance to read the store', async () =>
      kindsBy(await entriesOf(prefix, 'mixed'), 'a').includes('r'),
    )
    onA.publishUpdate(update(2))
    await waitFor('a to publish to it', async () => kindsBy(await entriesOf(prefix, 'mixed'), 'a').includes('u'))
    // A current instance's heartbeat says so: it is answered by interest like any other.
    await append(`${prefix}instances`, { kind: EntryKind.Heartbeat, from: 'old', byInterest: true })
    await sleep(300)
    const before = (await entriesOf(prefix, 'mixed')).length
    onA.publishUpdate(update(3))
    await sleep(300)
    expect((await entriesOf(prefix, 'mixed')).length).toBe(before)
  })

  it('asks again who has its documents when an instance declared gone turns out to be alive', async () => {
    const prefix = freshPrefix()
    const a = await openRelay('a', prefix, { deadAfterMs: 800 })
    const onA = a.join('ghost-doc', new RecordingPeer())
    await onA.ready
    const partition = partitionKey(prefix, 32, 'ghost-doc')
    const heartbeat = () => append(`${prefix}instances`, { kind: EntryKind.Heartbeat, from: 'ghost', byInterest: true })
    await heartbeat()
    await append(partition, { kind: EntryKind.Query, from: 'ghost', doc: 'ghost-doc' })
    await waitFor('a to answer the ghost', async () => kindsBy(await entriesOf(prefix, 'ghost-doc'), 'a').includes('i'))
    onA.publishUpdate(update(1))
    await waitFor('a to publish for it', async () => kindsBy(await entriesOf(prefix, 'ghost-doc'), 'a').includes('u'))

    // Silent past the deadline: declared gone, so a stops publishing for it.
    await sleep(2_500)
    const count = (await entriesOf(prefix, 'ghost-doc')).length
    onA.publishUpdate(update(2))
    await sleep(300)
    expect((await entriesOf(prefix, 'ghost-doc')).length).toBe(count)

    // It was only stalled: a asks again who has the document, and once told, asks it to read what it missed.
    await heartbeat()
    await waitFor('a to ask again', async () =>
      kindsBy(await entriesOf(prefix, 'ghost-doc'), 'a')
        .slice(-1)
        .includes('q'),
    )
    await append(partition, { kind: EntryKind.Here, from: 'ghost', doc: 'ghost-doc' })
    await waitFor('a to ask for a resync', async () =>
      kindsBy(await entriesOf(prefix, 'ghost-doc'), 'a')
        .slice(-1)
        .includes('r'),
    )
    onA.publishUpdate(update(3))
    await waitFor('a to publish for it again', async () =>
      kindsBy(await entriesOf(prefix, 'ghost-doc'), 'a')
        .slice(-1)
        .includes('u'),
    )
  })
})
