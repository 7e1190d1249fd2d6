import { describe, expect, it } from 'vitest'
import {
  type Partition,
  PartitionMembership,
  type PartitionStreams,
  partitionKey,
} from '../src/partition-membership.js'

interface Doc {
  name: string
  partition: Partition<Doc>
}

/**
 * Streams whose newest entry is answered by the test: each lookup waits until `answer` or `fail` settles it, so a
 * test can look at the membership while positioning is under way.
 */
function fakeStreams(count = 4) {
  const lookups: Array<{ key: string; settle: (id: string | null | Error) => void }> = []
  const positioned: string[] = []
  const failed: string[] = []
  const streams: PartitionStreams = {
    keyPrefix: 't:',
    count,
    newestEntryId: (key) =>
      new Promise((resolve, reject) => {
        lookups.push({ key, settle: (id) => (id instanceof Error ? reject(id) : resolve(id)) })
      }),
    positioned: (partition) => positioned.push(partition.key),
    positionFailed: (partition) => failed.push(partition.key),
  }
  /** Settles the oldest lookup still waiting. */
  const answer = async (id: string | null | Error) => {
    const lookup = lookups.shift()
    if (!lookup) throw new Error('no lookup is waiting')
    lookup.settle(id)
    // Let the partition record the answer.
    await new Promise((resolve) => setImmediate(resolve))
  }
  return { streams, lookups, positioned, failed, answer }
}

/** Two document names that share a partition, and one in another, among `count` partitions. */
function namesByPartition(count: number): { a: string; b: string; other: string } {
  const names = Array.from({ length: 200 }, (_, i) => `doc-${i}`)
  const key = (name: string) => partitionKey('t:', count, name)
  const a = names[0]!
  const b = names.find((name) => name !== a && key(name) === key(a))!
  const other = names.find((name) => key(name) !== key(a))!
  return { a, b, other }
}

function load(membership: PartitionMembership<Doc>, name: string): Doc {
  return membership.load(name, (partition) => ({ name, partition }))
}

function readKeys(membership: PartitionMembership<Doc>): Array<[string, string]> {
  return membership.readSet().map(({ partition, position }) => [partition.key, position])
}

describe('partition membership', () => {
  it('puts a document in the same stream on every instance and in every version', () => {
    // Instances of a deployment must agree, a rolling upgrade included: CRC-32 of the name modulo the count.
    expect(partitionKey('collab:', 32, 'notes')).toBe('collab:p:12')
    expect(partitionKey('collab:', 32, 'welcome')).toBe('collab:p:19')
    expect(partitionKey('collab:', 1, 'notes')).toBe('collab:p:0')
    const { streams } = fakeStreams(32)
    expect(new PartitionMembership<Doc>({ ...streams, keyPrefix: 'collab:' }).keyOf('notes')).toBe('collab:p:12')
  })

  it.each([0, -1, 1.5, 65_537, Number.NaN])('refuses %s partitions with a RangeError', (count) => {
    expect(() => new PartitionMembership<Doc>(fakeStreams(count).streams)).toThrow(RangeError)
  })

  it('reads a partition only once positioned, from after its newest entry', async () => {
    const fake = fakeStreams()
    const membership = new PartitionMembership<Doc>(fake.streams)
    const doc = load(membership, 'notes')
    expect(fake.lookups.map((lookup) => lookup.key)).toEqual([doc.partition.key])
    // Until then the read would start at an unknown place: the partition is left out.
    expect(readKeys(membership)).toEqual([])
    await fake.answer('17-3')
    expect(readKeys(membership)).toEqual([[doc.partition.key, '17-3']])
    expect(fake.positioned).toEqual([doc.partition.key])
    await expect(doc.partition.positioned).resolves.toBeUndefined()
  })

  it('reads an empty or absent stream from its start', async () => {
    const fake = fakeStreams()
    const membership = new PartitionMembership<Doc>(fake.streams)
    const doc = load(membership, 'notes')
    await fake.answer(null)
    expect(readKeys(membership)).toEqual([[doc.partition.key, '0-0']])
  })

  it('does not position a partition again for a second document, which reads from the current position', async () => {
    const { a, b } = namesByPartition(4)
    const fake = fakeStreams(4)
    const membership = new PartitionMembership<Doc>(fake.streams)
    const first = load(membership, a)
    await fake.answer('5-0')
    first.partition.advance('9-1')
    const second = load(membership, b)
    expect(second.partition).toBe(first.partition)
    expect(fake.lookups).toEqual([])
    expect(readKeys(membership)).toEqual([[first.partition.key, '9-1']])
  })

  it('loads a document once: a second load returns what is loaded', async () => {
    const fake = fakeStreams()
    const membership = new PartitionMembership<Doc>(fake.streams)
    const doc = load(membership, 'notes')
    expect(load(membership, 'notes')).toBe(doc)
    expect(membership.get('notes')).toBe(doc)
    expect([...membership.documents()]).toEqual([doc])
    expect([...doc.partition.docs.values()]).toEqual([doc])
  })

  it('stops reading a partition after its last document left, and positions it anew when needed again', async () => {
    const { a, b } = namesByPartition(4)
    const fake = fakeStreams(4)
    const membership = new PartitionMembership<Doc>(fake.streams)
    const first = load(membership, a)
    const second = load(membership, b)
    await fake.answer('5-0')
    membership.unload(a, first)
    expect(membership.isRead(first.partition)).toBe(true)
    membership.unload(b, second)
    expect(membership.isRead(first.partition)).toBe(false)
    expect(readKeys(membership)).toEqual([])
    expect(membership.get(a)).toBeUndefined()

    // Loaded again, the partition is another object with its own position: entries read for the old one are not
    // applied to it.
    const again = load(membership, a)
    expect(again.partition).not.toBe(first.partition)
    expect(membership.isRead(again.partition)).toBe(true)
    expect(membership.isRead(first.partition)).toBe(false)
    await fake.answer('40-0')
    expect(readKeys(membership)).toEqual([[again.partition.key, '40-0']])
  })

  it('ignores unloading a document that is no longer the one loaded under its name', async () => {
    const fake = fakeStreams()
    const membership = new PartitionMembership<Doc>(fake.streams)
    const old = load(membership, 'notes')
    membership.unload('notes', old)
    const current = load(membership, 'notes')
    membership.unload('notes', old)
    expect(membership.get('notes')).toBe(current)
    expect(current.partition.docs.get('notes')).toBe(current)
    expect(membership.isRead(current.partition)).toBe(true)
  })

  it('keeps a partition whose positioning failed out of reads until it is positioned again', async () => {
    const { a, other } = namesByPartition(4)
    const fake = fakeStreams(4)
    const membership = new PartitionMembership<Doc>(fake.streams)
    const unreachable = load(membership, a)
    const reachable = load(membership, other)
    await fake.answer(new Error('Connection is closed.'))
    await fake.answer('3-0')
    // The room waiting for it loads anyway.
    await expect(unreachable.partition.positioned).resolves.toBeUndefined()
    expect(fake.failed).toEqual([unreachable.partition.key])
    expect(readKeys(membership)).toEqual([[reachable.partition.key, '3-0']])

    // Redis is back: only the partition that is not positioned is positioned again.
    expect(membership.positionUnpositioned()).toEqual([unreachable.partition])
    expect(fake.lookups.map((lookup) => lookup.key)).toEqual([unreachable.partition.key])
    await fake.answer('8-0')
    await unreachable.partition.positioned
    expect(readKeys(membership)).toEqual(
      expect.arrayContaining([
        [reachable.partition.key, '3-0'],
        [unreachable.partition.key, '8-0'],
      ]),
    )
    expect(membership.positionUnpositioned()).toEqual([])
  })

  it('pushes a stream expiry back at most once per interval', () => {
    const fake = fakeStreams()
    const membership = new PartitionMembership<Doc>(fake.streams)
    const { partition } = load(membership, 'notes')
    expect(partition.claimExpiryRefresh(100_000, 60_000)).toBe(true)
    expect(partition.claimExpiryRefresh(130_000, 60_000)).toBe(false)
    expect(partition.claimExpiryRefresh(160_000, 60_000)).toBe(false)
    expect(partition.claimExpiryRefresh(160_001, 60_000)).toBe(true)
  })
})
