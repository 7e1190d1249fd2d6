import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { CompactionPolicy, DocStore } from '../src/index.js'

/** Creates fresh, empty stores of one adapter for the shared contract suite. */
export interface DocStoreFactory {
  /** A new empty store; the suite closes it after each test. */
  create(options?: { compaction?: Partial<CompactionPolicy> }): Promise<DocStore>
  /** Whether the adapter keeps side records (readSide/writeSide); one that does not must refuse them. */
  sideRecords: boolean
}

/** A Y.Doc whose every local change is captured as one update, the way the server produces them. */
export class UpdateSource {
  readonly doc = new Y.Doc()
  readonly text = this.doc.getText('codemirror')
  private readonly captured: Uint8Array[] = []

  constructor() {
    this.doc.on('update', (update: Uint8Array) => this.captured.push(update))
  }

  /** Inserts `content` at `index` and returns the update it produced. */
  insert(index: number, content: string): Uint8Array {
    this.text.insert(index, content)
    return this.last()
  }

  /** Deletes and returns the update it produced. */
  delete(index: number, length: number): Uint8Array {
    this.text.delete(index, length)
    return this.last()
  }

  /** Appends `content` at the end and returns the update. */
  type(content: string): Uint8Array {
    return this.insert(this.text.length, content)
  }

  private last(): Uint8Array {
    const update = this.captured.at(-1)
    if (!update) throw new Error('no update was produced')
    return update
  }

  destroy(): void {
    this.doc.destroy()
  }
}

/** The text of the `codemirror` Y.Text after applying `updates` to a fresh document. */
export function textOf(updates: readonly Uint8Array[]): string {
  const doc = new Y.Doc()
  try {
    for (const update of updates) Y.applyUpdate(doc, update)
    return doc.getText('codemirror').toString()
  } finally {
    doc.destroy()
  }
}

/** The clocks of a tombstone (a Yjs state vector), failing the test if there is none. */
function clocksOf(tombstone: Uint8Array | null): Map<number, number> {
  if (tombstone === null) throw new Error('expected a tombstone')
  return Y.decodeStateVector(tombstone)
}

/** Plain Uint8Array copies, so updates compare equal whichever subclass (Buffer) a store returns. */
function plain(updates: readonly Uint8Array[]): Uint8Array[] {
  return updates.map((update) => Uint8Array.from(update))
}

/** The contract of DocStore (src/doc-store.ts), checked against one adapter. */
export function describeDocStoreContract(adapter: string, factory: DocStoreFactory): void {
  describe(`DocStore contract: ${adapter}`, () => {
    const stores: DocStore[] = []
    const sources: UpdateSource[] = []

    async function createStore(compaction?: Partial<CompactionPolicy>): Promise<DocStore> {
      const store = await factory.create(compaction ? { compaction } : {})
      stores.push(store)
      return store
    }

    function createSource(): UpdateSource {
      const source = new UpdateSource()
      sources.push(source)
      return source
    }

    async function recordsOf(store: DocStore, name: string): Promise<number | undefined> {
      return (await store.list()).find((info) => info.name === name)?.records
    }

    afterEach(async () => {
      for (const source of sources.splice(0)) source.destroy()
      await Promise.all(stores.splice(0).map((store) => store.close()))
    })

    it('loads an unknown document as no updates', async () => {
      const store = await createStore()
      expect(await store.load('never-written')).toEqual([])
      expect(store.needsCompaction('never-written')).toBe(false)
    })

    // Registered per adapter rather than skipped: each adapter runs the half that applies to it.
    if (!factory.sideRecords) {
      describe('without side records', () => {
        it('refuses an append with side writes, and stores nothing', async () => {
          const store = await createStore()
          expect(store.readSide).toBeUndefined()
          const source = createSource()
          await expect(store.append('doc', source.type('a'), [{ key: 'k', value: new Uint8Array(1) }])).rejects.toThrow(
            /side records/,
          )
          expect(await store.load('doc')).toEqual([])
        })
      })
    } else {
      describe('side records', () => {
        const bytes = (text: string) => new TextEncoder().encode(text)
        const keysOf = (records: Array<[string, Uint8Array]>) => records.map(([key]) => key)

        it('are written in the batch of an append, read by prefix in key order, and deleted by key and range', async () => {
          const store = await createStore()
          if (!store.readSide || !store.writeSide) throw new Error('the adapter says it keeps side records')
          const source = createSource()
          await store.append('doc', source.type('a'), [
            { key: 'ot/e/0002', value: bytes('two') },
            { key: 'ot/e/0001', value: bytes('one') },
            { key: 'other', value: bytes('x') },
          ])
          await store.writeSide('doc', [{ key: 'ot/e/0003', value: bytes('three') }])
          expect(keysOf(await store.readSide('doc', 'ot/e/'))).toEqual(['ot/e/0001', 'ot/e/0002', 'ot/e/0003'])
          expect(new TextDecoder().decode((await store.readSide('doc', 'ot/e/0002'))[0]?.[1])).toBe('two')
          await store.writeSide('doc', [
            { from: 'ot/e/', to: 'ot/e/0003' },
            { key: 'other', value: null },
          ])
          expect(keysOf(await store.readSide('doc', ''))).toEqual(['ot/e/0003'])
          expect(await store.readSide('unknown', '')).toEqual([])
        })

        it('go with the document when it is deleted', async () => {
          const store = await createStore()
          if (!store.readSide || !store.writeSide) throw new Error('the adapter says it keeps side records')
          const source = createSource()
          await store.append('doc', source.type('a'), [{ key: 'k', value: bytes('v') }])
          await store.delete('doc')
          expect(await store.readSide('doc', '')).toEqual([])
        })
      })
    }

    it('returns appended updates in append order', async () => {
      const store = await createStore()
      const source = createSource()
      const updates = [source.type('a'), source.type('b'), source.type('c'), source.delete(0, 1), source.type('d')]
      for (const update of updates) await store.append('doc', update)
      expect(plain(await store.load('doc'))).toEqual(updates)
    })

    it('keeps nothing in memory for a forgotten document, and continues it correctly afterwards', async () => {
      const store = await createStore({ maxRecords: 4, maxBytes: 1 << 20 })
      const source = createSource()
      const names = Array.from({ length: 50 }, (_, i) => `doc-${i}`)
      const updates = [source.type('a'), source.type('b'), source.type('c')]
      for (const name of names) {
        await store.append(name, updates[0]!)
        await store.load(name)
      }
      await Promise.all(names.map((name) => store.forget?.(name)))
      // Whatever a store keeps per document (a map named `docs` in the persistent stores) is gone.
      const held = (store as unknown as { docs?: Map<string, unknown> }).docs
      if (held && store.forget) expect([...held.keys()].filter((name) => name.startsWith('doc-'))).toEqual([])
      // Its records are not: a forgotten document takes its next updates after them, and its figures are right.
      await store.append('doc-0', updates[1]!)
      await store.append('doc-0', updates[2]!)
      expect(plain(await store.load('doc-0'))).toEqual(updates)
      expect(await recordsOf(store, 'doc-0')).toBe(3)
      await store.append('doc-0', source.type('d'))
      expect(store.needsCompaction('doc-0')).toBe(true)
      expect(textOf(await store.load('doc-0'))).toBe('abcd')
    })

    it('keeps a document that was written while forgetting it waited for earlier writes', async () => {
      const store = await createStore()
      const source = createSource()
      const first = source.type('a')
      const second = source.type('b')
      await store.append('doc', first)
      const appended = store.append('doc', second)
      const forgotten = store.forget?.('doc')
      await Promise.all([appended, forgotten])
      const third = source.type('c')
      await store.append('doc', third)
      expect(plain(await store.load('doc'))).toEqual([first, second, third])
    })

    it('keeps append order for appends that were not awaited one by one', async () => {
      const store = await createStore()
      const source = createSource()
      const updates = Array.from({ length: 50 }, (_, i) => source.type(String(i % 10)))
      await Promise.all(updates.map((update) => store.append('doc', update)))
      expect(plain(await store.load('doc'))).toEqual(updates)
    })

    it('gives back the written text when the loaded updates are applied', async () => {
      const store = await createStore()
      const source = createSource()
      await store.append('doc', source.type('hello world'))
      await store.append('doc', source.delete(0, 6))
      await store.append('doc', source.insert(0, 'brave new '))
      await store.append('doc', source.type(' 🌍 ünïcødé'))
      expect(textOf(await store.load('doc'))).toBe('brave new world 🌍 ünïcødé')
      expect(textOf(await store.load('doc'))).toBe(source.text.toString())
    })

    for (const withSnapshot of [false, true]) {
      it(`compacts ${withSnapshot ? 'with' : 'without'} a snapshot argument: same content, one record`, async () => {
        const store = await createStore()
        const source = createSource()
        for (let i = 0; i < 30; i++) await store.append('doc', source.type(`line ${i}\n`))
        await store.append('doc', source.delete(0, 7))
        expect(await recordsOf(store, 'doc')).toBe(31)

        await store.compact('doc', withSnapshot ? Y.encodeStateAsUpdate(source.doc) : undefined)
        const loaded = await store.load('doc')
        expect(loaded).toHaveLength(1)
        expect(textOf(loaded)).toBe(source.text.toString())
        expect(await recordsOf(store, 'doc')).toBe(1)

        // The compacted document keeps accepting appends after its snapshot.
        await store.append('doc', source.type('after'))
        expect(textOf(await store.load('doc'))).toBe(source.text.toString())
        expect(await recordsOf(store, 'doc')).toBe(2)
        await store.compact('doc')
        expect(await store.load('doc')).toHaveLength(1)
        expect(textOf(await store.load('doc'))).toBe(source.text.toString())
      })
    }

    it('compacting an unknown or already compacted document changes nothing', async () => {
      const store = await createStore()
      await store.compact('never-written')
      expect(await store.load('never-written')).toEqual([])
      const source = createSource()
      await store.append('doc', source.type('once'))
      await store.compact('doc')
      const afterFirst = plain(await store.load('doc'))
      await store.compact('doc')
      expect(plain(await store.load('doc'))).toEqual(afterFirst)
      expect(textOf(afterFirst)).toBe('once')
    })

    it('asks for compaction after policy.maxRecords records', async () => {
      const store = await createStore({ maxRecords: 5, maxBytes: 1 << 20 })
      const source = createSource()
      for (let i = 0; i < 4; i++) await store.append('doc', source.type('x'))
      expect(store.needsCompaction('doc')).toBe(false)
      await store.append('doc', source.type('x'))
      expect(store.needsCompaction('doc')).toBe(true)
      await store.compact('doc')
      expect(store.needsCompaction('doc')).toBe(false)
      for (let i = 0; i < 4; i++) await store.append('doc', source.type('y'))
      expect(store.needsCompaction('doc')).toBe(false)
      await store.append('doc', source.type('y'))
      expect(store.needsCompaction('doc')).toBe(true)
    })

    it('asks for compaction once the updates since the snapshot outweigh policy.maxBytes and the snapshot', async () => {
      const store = await createStore({ maxRecords: 10_000, maxBytes: 200 })
      const source = createSource()
      await store.append('doc', source.type('small'))
      expect(store.needsCompaction('doc')).toBe(false)
      await store.append('doc', source.type('x'.repeat(250)))
      expect(store.needsCompaction('doc')).toBe(true)
      await store.compact('doc')
      expect(store.needsCompaction('doc')).toBe(false)

      // The snapshot is now larger than maxBytes, so the threshold is the snapshot's size.
      const snapshotBytes = (await store.load('doc'))[0]?.length ?? 0
      expect(snapshotBytes).toBeGreaterThan(200)
      let tailBytes = 0
      while (tailBytes + 40 < snapshotBytes) {
        const update = source.type('y'.repeat(10))
        tailBytes += update.length
        await store.append('doc', update)
        expect(store.needsCompaction('doc'), `${tailBytes} of ${snapshotBytes} bytes`).toBe(false)
      }
      await store.append('doc', source.type('z'.repeat(100)))
      expect(store.needsCompaction('doc')).toBe(true)
    })

    for (const withSnapshot of [false, true]) {
      it(`loses nothing when compacting ${withSnapshot ? 'with' : 'without'} a snapshot during concurrent appends`, async () => {
        const store = await createStore({ maxRecords: 10, maxBytes: 1 << 20 })
        const source = createSource()
        const appends: Promise<void>[] = []
        const compactions: Promise<void>[] = []
        for (let i = 0; i < 600; i++) {
          const update = i % 7 === 6 ? source.delete(0, 1) : source.type(String.fromCharCode(97 + (i % 26)))
          appends.push(store.append('doc', update))
          if (i % 150 === 75) {
            // A snapshot may only be passed when it holds everything appended so far; the source's state does.
            compactions.push(store.compact('doc', withSnapshot ? Y.encodeStateAsUpdate(source.doc) : undefined))
          }
          // Let some batches reach the disk between appends so compaction overlaps writes in flight.
          if (i % 40 === 0) await new Promise((resolve) => setImmediate(resolve))
        }
        await Promise.all([...appends, ...compactions])
        expect(textOf(await store.load('doc'))).toBe(source.text.toString())
        await store.compact('doc')
        expect(textOf(await store.load('doc'))).toBe(source.text.toString())
        expect(await store.load('doc')).toHaveLength(1)
      })
    }

    it('lists documents with their bytes, records and last write time', async () => {
      const store = await createStore()
      expect(await store.list()).toEqual([])
      const source = createSource()
      const before = Date.now()
      const first = source.type('one')
      const second = source.type('two')
      await store.append('alpha', first)
      await store.append('alpha', second)
      await store.append('beta', first)
      const after = Date.now()

      const listed = (await store.list()).sort((a, b) => a.name.localeCompare(b.name))
      expect(listed.map((info) => info.name)).toEqual(['alpha', 'beta'])
      const [alpha, beta] = listed
      expect(alpha).toMatchObject({ records: 2, bytes: first.length + second.length })
      expect(beta).toMatchObject({ records: 1, bytes: first.length })
      for (const info of listed) {
        expect(info.updatedAt).toBeGreaterThanOrEqual(before)
        expect(info.updatedAt).toBeLessThanOrEqual(after)
      }

      await store.compact('alpha')
      const compacted = (await store.list()).find((info) => info.name === 'alpha')
      expect(compacted?.records).toBe(1)
      expect(compacted?.bytes).toBe((await store.load('alpha'))[0]?.length)
    })

    it('deletes a document and everything stored for it', async () => {
      const store = await createStore()
      const source = createSource()
      await store.append('doomed', source.type('bye'))
      await store.append('doomed', source.type('!'))
      await store.compact('doomed')
      await store.append('doomed', source.type('?'))
      await store.append('kept', source.type('stay'))
      await store.delete('doomed')
      expect(await store.load('doomed')).toEqual([])
      expect((await store.list()).map((info) => info.name)).toEqual(['kept'])
      expect(store.needsCompaction('doomed')).toBe(false)

      // A deleted name can be written again from scratch.
      const fresh = createSource()
      await store.append('doomed', fresh.type('again'))
      expect(textOf(await store.load('doomed'))).toBe('again')
    })

    it('loads a tail of twice policy.maxRecords records as one merged record, and stores it so', async () => {
      const store = await createStore({ maxRecords: 10, maxBytes: 1 << 20 })
      const source = createSource()
      await store.append('doc', source.type('first '))
      await store.compact('doc')
      for (let i = 0; i < 18; i++) await store.append('doc', source.type(`${i} `))
      // A snapshot and 18 records: below the threshold, returned as stored.
      expect(await store.load('doc')).toHaveLength(19)

      await store.append('doc', source.delete(0, 6))
      await store.append('doc', source.type('last'))
      const loaded = await store.load('doc')
      expect(loaded).toHaveLength(1)
      expect(textOf(loaded)).toBe(source.text.toString())
      await store.flush()
      expect(await recordsOf(store, 'doc')).toBe(1)
      expect(store.needsCompaction('doc')).toBe(false)
      expect(plain(await store.load('doc'))).toEqual(plain(loaded))

      // Appends continue after the snapshot the load stored.
      await store.append('doc', source.type('!'))
      expect(await store.load('doc')).toHaveLength(2)
      expect(textOf(await store.load('doc'))).toBe(source.text.toString())
    })

    it('[DL2] has no tombstone for a document that was never deleted', async () => {
      const store = await createStore()
      expect(await store.tombstone('never-written')).toBeNull()
      await store.append('doc', createSource().type('alive'))
      await store.compact('doc')
      expect(await store.tombstone('doc')).toBeNull()
    })

    it('[DL2] keeps the state vector given to delete as the tombstone', async () => {
      const store = await createStore()
      const source = createSource()
      await store.append('doc', source.type('hello'))
      // The live document may hold more than the store: its state vector is what the caller passes.
      source.type(' world')
      await store.delete('doc', Y.encodeStateVector(source.doc))
      expect(clocksOf(await store.tombstone('doc'))).toEqual(Y.decodeStateVector(Y.encodeStateVector(source.doc)))
      expect(await store.load('doc')).toEqual([])
    })

    it('[DL2] computes the tombstone from the stored records when delete is given no state vector', async () => {
      const store = await createStore()
      const first = createSource()
      const second = createSource()
      for (let i = 0; i < 10; i++) await store.append('doc', first.type(`${i},`))
      await store.compact('doc')
      Y.applyUpdate(second.doc, Y.encodeStateAsUpdate(first.doc))
      await store.append('doc', second.type('second writer'))
      await store.append('doc', first.delete(0, 4))
      Y.applyUpdate(first.doc, Y.encodeStateAsUpdate(second.doc))

      await store.delete('doc')
      const tombstone = clocksOf(await store.tombstone('doc'))
      expect(tombstone).toEqual(Y.decodeStateVector(Y.encodeStateVector(first.doc)))
      expect(tombstone.size).toBe(2)
    })

    it('[DL2] merges the state vector of a later delete into the tombstone: the larger clock per client wins', async () => {
      const store = await createStore()
      await store.delete(
        'doc',
        Y.encodeStateVector(
          new Map([
            [1, 10],
            [2, 5],
          ]),
        ),
      )
      await store.delete(
        'doc',
        Y.encodeStateVector(
          new Map([
            [1, 3],
            [3, 7],
          ]),
        ),
      )
      expect(clocksOf(await store.tombstone('doc'))).toEqual(
        new Map([
          [1, 10],
          [2, 5],
          [3, 7],
        ]),
      )

      // A computed one merges the same way.
      const source = createSource()
      await store.append('doc', source.type('x'.repeat(12)))
      await store.delete('doc')
      expect(clocksOf(await store.tombstone('doc'))).toEqual(
        new Map([
          [1, 10],
          [2, 5],
          [3, 7],
          [source.doc.clientID, 12],
        ]),
      )
    })

    it('[DL2] starts a new document of a deleted name empty, next to the tombstone it keeps', async () => {
      const store = await createStore()
      const old = createSource()
      for (let i = 0; i < 5; i++) await store.append('doc', old.type(`old ${i} `))
      await store.delete('doc')
      const tombstone = await store.tombstone('doc')
      expect(tombstone).not.toBeNull()
      expect(await store.load('doc')).toEqual([])
      expect((await store.list()).map((info) => info.name)).toEqual([])

      const fresh = createSource()
      await store.append('doc', fresh.type('new'))
      await store.append('doc', fresh.type(' life'))
      expect(textOf(await store.load('doc'))).toBe('new life')
      await store.compact('doc')
      expect(textOf(await store.load('doc'))).toBe('new life')
      expect(await store.tombstone('doc')).toEqual(tombstone)
      expect(await store.list()).toMatchObject([{ name: 'doc', records: 1 }])
    })

    it('[IN1] gives a document one incarnation id, the same to callers asking at once, after writes and a forget', async () => {
      const store = await createStore()
      const source = createSource()
      const [first, second] = await Promise.all([store.incarnation('doc'), store.incarnation('doc')])
      expect(first).toMatch(/^[0-9a-f-]{36}$/)
      expect(second).toBe(first)
      await store.append('doc', source.type('hello'))
      await store.compact('doc')
      await store.forget?.('doc')
      expect(await store.incarnation('doc')).toBe(first)
      expect(await store.incarnation('other')).not.toBe(first)
      // Asking for it stores no document: it is not listed, and loads as nothing.
      expect((await store.list()).map((info) => info.name)).toEqual(['doc'])
      expect(await store.load('other')).toEqual([])
    })

    it('[IN1] gives a deleted document a new incarnation id, kept from then on', async () => {
      const store = await createStore()
      const source = createSource()
      await store.append('doc', source.type('old'))
      const before = await store.incarnation('doc')
      await store.delete('doc')
      const after = await store.incarnation('doc')
      expect(after).not.toBe(before)
      await store.append('doc', createSource().type('new'))
      expect(await store.incarnation('doc')).toBe(after)
      // A deletion of a document never written still starts a new incarnation.
      await store.delete('doc', Y.encodeStateVector(new Map([[7, 1]])))
      expect(await store.incarnation('doc')).not.toBe(after)
    })

    it('lists neither a deleted document that has only a tombstone nor its tombstone', async () => {
      const store = await createStore()
      const source = createSource()
      await store.append('gone', source.type('bye'))
      await store.append('kept', source.type('stay'))
      await store.delete('gone')
      await store.delete('never-stored', Y.encodeStateVector(new Map([[7, 1]])))
      expect((await store.list()).map((info) => info.name)).toEqual(['kept'])
    })

    it('refuses a malformed state vector and deletes nothing', async () => {
      const store = await createStore()
      const source = createSource()
      await store.append('doc', source.type('safe'))
      await expect(store.delete('doc', new Uint8Array([5, 1]))).rejects.toThrow(RangeError)
      expect(textOf(await store.load('doc'))).toBe('safe')
      expect(await store.tombstone('doc')).toBeNull()
    })

    it('keeps documents independent, including names that prefix one another', async () => {
      const store = await createStore()
      const names = ['a', 'ab', 'a/b', 'a b', 'ünï/cødé']
      const byName = new Map(names.map((name) => [name, createSource()]))
      for (let round = 0; round < 5; round++) {
        for (const [name, source] of byName) await store.append(name, source.type(`${name}:${round};`))
      }
      await store.compact('a')
      await store.delete('a b')
      await store.append('ab', byName.get('ab')!.type('more'))
      for (const [name, source] of byName) {
        const expected = name === 'a b' ? '' : source.text.toString()
        expect(textOf(await store.load(name)), name).toBe(expected)
      }
      expect(await store.load('a')).toHaveLength(1)
      expect(await store.load('ab')).toHaveLength(6)
      expect((await store.list()).map((info) => info.name).sort()).toEqual(['a', 'a/b', 'ab', 'ünï/cødé'])
    })

    it('rejects use after close', async () => {
      const store = await createStore()
      await store.close()
      await expect(store.load('doc')).rejects.toThrow(/closed/)
      await expect(store.append('doc', new Uint8Array([0, 0]))).rejects.toThrow(/closed/)
    })
  })
}
