import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '@collab/test-support'
import { ClassicLevel } from 'classic-level'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { type DocInfo, DocumentUnreadableError, LevelDocStore } from '../src/index.js'
import { describeDocStoreContract, textOf, UpdateSource } from './contract.js'

const directories: string[] = []

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'collab-level-test-'))
  directories.push(dir)
  return dir
}

afterEach(() => {
  for (const dir of directories.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describeDocStoreContract('LevelDocStore', {
  sideRecords: true,
  create: (options) => LevelDocStore.open({ path: tempDir(), ...options }),
})

// The key layout of level-doc-store.ts, repeated here on purpose: these tests write to the database behind the
// store's back, and a change of layout should make them fail loudly rather than follow silently.
const recordPrefix = (name: string) => `d\u0000${name}\u0000`
const recordKey = (name: string, seq: number) => recordPrefix(name) + seq.toString(16).padStart(12, '0')
const recordKind = { update: 1, snapshot: 2, tombstone: 3 }
const tombstoneKey = (name: string) => `t\u0000${name}`
const infoKey = (name: string) => `i\u0000${name}`

/** Opens the raw database of a closed store (one handle at a time, STACK.md trap 8). */
async function withRawDb<T>(path: string, use: (db: ClassicLevel<string, Uint8Array>) => Promise<T>): Promise<T> {
  const db = new ClassicLevel<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
  await db.open()
  try {
    return await use(db)
  } finally {
    await db.close()
  }
}

async function rawRecords(db: ClassicLevel<string, Uint8Array>, name: string): Promise<Array<[string, Uint8Array]>> {
  const records: Array<[string, Uint8Array]> = []
  for await (const entry of db.iterator({ gte: recordPrefix(name), lt: `d\u0000${name}\u0001` })) records.push(entry)
  return records
}

/**
 * A store on disk with `count` documents named `<prefix>-<n>`, each given 20 records: record `i` inserts
 * `chunk(i)` at the start. Returns its LevelDB handle too, for tests that watch what reaches it.
 */
async function typedDocuments(prefix: string, count: number, chunk: (i: number) => string) {
  const path = tempDir()
  const store = await LevelDocStore.open({ path })
  const db = (store as unknown as { db: ClassicLevel<string, Uint8Array> }).db
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`)
  const sources = names.map(() => new UpdateSource())
  for (let i = 0; i < 20; i++)
    await Promise.all(names.map((name, d) => store.append(name, sources[d]!.insert(0, chunk(i)))))
  return { path, store, db, names, sources }
}

describe('LevelDocStore on disk', () => {
  const open: LevelDocStore[] = []
  const sources: UpdateSource[] = []

  async function openStore(path: string, maxRecords?: number): Promise<LevelDocStore> {
    const store = await LevelDocStore.open({
      path,
      ...(maxRecords === undefined ? {} : { compaction: { maxRecords } }),
    })
    open.push(store)
    return store
  }

  function createSource(): UpdateSource {
    const source = new UpdateSource()
    sources.push(source)
    return source
  }

  afterEach(async () => {
    for (const source of sources.splice(0)) source.destroy()
    await Promise.all(open.splice(0).map((store) => store.close()))
  })

  it('keeps content and listing figures across close and reopen', async () => {
    const path = tempDir()
    const source = createSource()
    const other = createSource()
    const first = await openStore(path)
    for (let i = 0; i < 20; i++) await first.append('doc', source.type(`${i},`))
    await first.compact('doc')
    for (let i = 0; i < 5; i++) await first.append('doc', source.type(`tail${i},`))
    await first.append('other', other.type('independent'))
    const listedBefore = sortByName(await first.list())
    await first.close()

    const second = await openStore(path)
    expect(sortByName(await second.list())).toEqual(listedBefore)
    expect(textOf(await second.load('doc'))).toBe(source.text.toString())
    expect(await second.load('doc')).toHaveLength(6)
    expect(textOf(await second.load('other'))).toBe('independent')
  })

  it('loads a document an earlier run wrote, with its side records, in one turn of a busy event loop, not three', async () => {
    // A room load reads the records, the listing figure, the tombstone, the incarnation and the side records. Under
    // load every round trip to LevelDB waits for a turn of the event loop, so the reads go out together and each
    // range comes back in one answer: with a `for await` over the records and the listing figure read after them,
    // this took three turns.
    const path = tempDir()
    const source = createSource()
    const first = await openStore(path)
    for (let i = 0; i < 5; i++)
      await first.append('doc', source.type(`${i},`), [{ key: 'ot/1', value: new Uint8Array([1]) }])
    await first.incarnation('doc')
    await first.close()
    const store = await openStore(path)
    let turns = 0
    let busy = true
    const turn = () => {
      if (!busy) return
      turns++
      const until = performance.now() + 25
      while (performance.now() < until) {
        // The event loop is held as a busy server holds it.
      }
      setImmediate(turn)
    }
    setImmediate(turn)
    const [updates, tombstone, incarnation, side] = await Promise.all([
      store.load('doc'),
      store.tombstone('doc'),
      store.incarnation('doc'),
      store.readSide?.('doc', 'ot/'),
    ])
    const loadTurns = turns
    busy = false
    expect(textOf(updates)).toBe(source.text.toString())
    expect(tombstone).toBeNull()
    expect(incarnation).toMatch(/^[0-9a-f-]{36}$/)
    expect(side).toHaveLength(1)
    // One turn is enough when every read is answered within the turn it went out in (25 ms); two leaves room for a
    // slow machine. Reads one after another cannot take fewer than three.
    expect(loadTurns).toBeLessThanOrEqual(2)
  })

  it('[IN1] keeps the incarnation id across close and reopen; a wiped directory gives a new one', async () => {
    const path = tempDir()
    const first = await openStore(path)
    await first.append('doc', createSource().type('kept'))
    const id = await first.incarnation('doc')
    await first.close()
    const second = await openStore(path)
    expect(await second.incarnation('doc')).toBe(id)
    await second.close()
    const wiped = await openStore(tempDir())
    expect(await wiped.incarnation('doc')).not.toBe(id)
  })

  it('continues the sequence of a reopened document that is appended to before it is loaded', async () => {
    const path = tempDir()
    const source = createSource()
    const first = await openStore(path)
    for (let i = 0; i < 3; i++) await first.append('doc', source.type(`before${i} `))
    await first.close()

    const second = await openStore(path, 5)
    // No load first: the store must find the last sequence number itself, or it would overwrite stored records.
    await second.append('doc', source.type('after0 '))
    await second.append('doc', source.type('after1 '))
    expect(second.needsCompaction('doc')).toBe(true)
    expect((await second.list()).find((info) => info.name === 'doc')?.records).toBe(5)
    await second.close()
    expect(await withRawDb(path, (db) => rawRecords(db, 'doc'))).toHaveLength(5)

    const third = await openStore(path)
    expect(textOf(await third.load('doc'))).toBe(source.text.toString())
  })

  it('knows after a reopen and load whether a document needs compaction', async () => {
    const path = tempDir()
    const source = createSource()
    const first = await openStore(path, 4)
    for (let i = 0; i < 3; i++) await first.append('doc', source.type('x'))
    await first.close()

    const second = await openStore(path, 4)
    expect(second.needsCompaction('doc')).toBe(false)
    await second.load('doc')
    expect(second.needsCompaction('doc')).toBe(false)
    await second.append('doc', source.type('x'))
    expect(second.needsCompaction('doc')).toBe(true)
  })

  it('leaves exactly one snapshot record, under the last merged sequence number, after compaction', async () => {
    const path = tempDir()
    const source = createSource()
    const store = await openStore(path)
    for (let i = 0; i < 40; i++) await store.append('doc', source.type(`${i} `))
    await store.append('doc', source.delete(0, 10))
    await store.compact('doc')
    await store.close()

    const records = await withRawDb(path, (db) => rawRecords(db, 'doc'))
    expect(records).toHaveLength(1)
    const [key, value] = records[0]!
    expect(key).toBe(recordKey('doc', 41))
    expect(value[0]).toBe(recordKind.snapshot)

    const reopened = await openStore(path)
    expect(textOf(await reopened.load('doc'))).toBe(source.text.toString())
    // A snapshot passed by the caller is stored as given, also in a single record.
    await reopened.append('doc', source.type('!'))
    await reopened.compact('doc', Y.encodeStateAsUpdate(source.doc))
    await reopened.close()
    const afterSecond = await withRawDb(path, (db) => rawRecords(db, 'doc'))
    expect(afterSecond.map(([k, v]) => [k, v[0]])).toEqual([[recordKey('doc', 42), recordKind.snapshot]])
  })

  it('refuses to load a document with an undecodable record, naming the document', async () => {
    const path = tempDir()
    const source = createSource()
    const store = await openStore(path)
    await store.append('broken/doc', source.type('precious work'))
    await store.append('healthy', createSource().type('fine'))
    await store.close()

    await withRawDb(path, async (db) => {
      await db.put(recordKey('broken/doc', 2), new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02]))
    })

    const reopened = await openStore(path)
    const failure = reopened.load('broken/doc')
    await expect(failure).rejects.toBeInstanceOf(DocumentUnreadableError)
    await expect(failure).rejects.toThrow(/"broken\/doc".*record 2.*unknown record kind 222/)
    // One damaged document does not make the others unreadable.
    expect(textOf(await reopened.load('healthy'))).toBe('fine')
  })

  it('refuses to load a document whose stored record was damaged (checksum mismatch)', async () => {
    const path = tempDir()
    const source = createSource()
    const store = await openStore(path)
    await store.append('doc', source.type('one'))
    await store.append('doc', source.type('two'))
    await store.close()

    await withRawDb(path, async (db) => {
      const records = await rawRecords(db, 'doc')
      const [key, value] = records[0]!
      const damaged = value.slice()
      damaged[damaged.length - 1] = (damaged[damaged.length - 1]! + 1) % 256
      await db.put(key, damaged)
    })

    const reopened = await openStore(path)
    const failure = reopened.load('doc')
    await expect(failure).rejects.toBeInstanceOf(DocumentUnreadableError)
    await expect(failure).rejects.toThrow(/document "doc" cannot be read: record 1: checksum mismatch/)
  })

  it('refuses to load a record shorter than its header', async () => {
    const path = tempDir()
    await withRawDb(path, (db) => db.put(recordKey('short', 1), new Uint8Array([recordKind.update, 0, 0])))
    const store = await openStore(path)
    await expect(store.load('short')).rejects.toThrow(DocumentUnreadableError)
    await expect(store.load('short')).rejects.toThrow(/"short".*shorter than its header/)
  })

  it('[DL2] keeps a tombstone across close and reopen, beside a new document of the same name', async () => {
    const path = tempDir()
    const old = createSource()
    const first = await openStore(path)
    for (let i = 0; i < 5; i++) await first.append('doc', old.type(`${i} `))
    await first.compact('doc')
    await first.append('doc', old.type('tail'))
    await first.delete('doc')
    const tombstone = await first.tombstone('doc')
    await first.close()

    // One batch removed every record and the listing entry, and wrote the tombstone.
    await withRawDb(path, async (db) => {
      expect(await rawRecords(db, 'doc')).toEqual([])
      expect(await db.get(infoKey('doc'))).toBeUndefined()
      expect((await db.get(tombstoneKey('doc')))?.[0]).toBe(recordKind.tombstone)
    })

    const second = await openStore(path)
    expect(await second.tombstone('doc')).toEqual(tombstone)
    expect(Y.decodeStateVector(tombstone!)).toEqual(Y.decodeStateVector(Y.encodeStateVector(old.doc)))
    const fresh = createSource()
    await second.append('doc', fresh.type('reborn'))
    await second.close()

    const third = await openStore(path)
    expect(textOf(await third.load('doc'))).toBe('reborn')
    expect(await third.tombstone('doc')).toEqual(tombstone)
    expect((await third.list()).map((info) => info.name)).toEqual(['doc'])
  })

  it('deletes a document with a damaged record, taking the clocks of the records that are intact', async () => {
    const path = tempDir()
    const source = createSource()
    const store = await openStore(path)
    await store.append('doc', source.type('one'))
    const intactClocks = Y.decodeStateVector(Y.encodeStateVector(source.doc))
    await store.append('doc', source.type('two'))
    await store.close()
    await withRawDb(path, (db) => db.put(recordKey('doc', 2), new Uint8Array([recordKind.update, 0, 0, 0, 0, 9])))

    const reopened = await openStore(path)
    await expect(reopened.load('doc')).rejects.toBeInstanceOf(DocumentUnreadableError)
    await reopened.delete('doc')
    expect(await reopened.load('doc')).toEqual([])
    expect(Y.decodeStateVector((await reopened.tombstone('doc'))!)).toEqual(intactClocks)
  })

  it('refuses to read a damaged tombstone rather than forget what was deleted', async () => {
    const path = tempDir()
    const store = await openStore(path)
    await store.delete('doc', Y.encodeStateVector(new Map([[1, 4]])))
    await store.close()
    await withRawDb(path, async (db) => {
      const value = (await db.get(tombstoneKey('doc')))!.slice()
      value[value.length - 1] = (value[value.length - 1]! + 1) % 256
      await db.put(tombstoneKey('doc'), value)
    })

    const reopened = await openStore(path)
    await expect(reopened.tombstone('doc')).rejects.toThrow(/"doc".*tombstone: checksum mismatch/)
    await expect(reopened.delete('doc')).rejects.toBeInstanceOf(DocumentUnreadableError)
  })

  it('merges a long tail left by an earlier run when it loads it, so the next run reads one record', async () => {
    const path = tempDir()
    const source = createSource()
    // What a server without a record threshold left behind: a long tail of burst records, never compacted.
    const first = await openStore(path, 1_000_000)
    for (let i = 0; i < 600; i++) await first.append('doc', source.type(i % 10 === 9 ? '\n' : 'x'))
    await first.close()

    const second = await openStore(path)
    const loaded = await second.load('doc')
    expect(loaded).toHaveLength(1)
    expect(textOf(loaded)).toBe(source.text.toString())
    await second.close()
    const records = await withRawDb(path, (db) => rawRecords(db, 'doc'))
    expect(records.map(([key, value]) => [key, value[0]])).toEqual([[recordKey('doc', 600), recordKind.snapshot]])
  })

  it('hands LevelDB no new options object per batch (abstract-level copies it into every operation)', async () => {
    // A fresh `{ sync }` per batch made those copies survive into V8's old generation: a mark-compact every few
    // seconds at 400 rooms typing, each a 20-40 ms stall for every client (bench/README.md, scaling).
    for (const sync of [false, true]) {
      const store = await LevelDocStore.open({ path: tempDir(), sync })
      const db = (store as unknown as { db: ClassicLevel<string, Uint8Array> }).db
      const seen: unknown[] = []
      const batch = db.batch.bind(db)
      db.batch = ((ops: never, options?: unknown) => {
        seen.push(options)
        return batch(ops, options as never)
      }) as typeof db.batch
      const source = new UpdateSource()
      for (let i = 0; i < 5; i++)
        await Promise.all(['a', 'b'].map((name) => store.append(name, source.insert(0, `${i}`))))
      await store.close()
      expect(seen.length).toBeGreaterThanOrEqual(5)
      if (!sync) expect(seen.every((options) => options === undefined)).toBe(true)
      else expect(new Set(seen).size).toBe(1)
      if (sync) expect(seen[0]).toEqual({ sync: true })
    }
  })

  it('runs compactions one at a time, each in its own batch, and leaves the space of small ones to LevelDB', async () => {
    // Hundreds of rooms reach the threshold in the same second after a burst of typing; their deletions in one batch
    // held the event loop for as long as LevelDB took to prepare it (1-3 us per operation, on the main thread). And
    // a compactRange for each of them (a memtable flush and a level-0 compaction apiece) kept the core busy for 30 s.
    const { path, store, db, names, sources } = await typedDocuments('doc', 8, (i) => `${i % 10}`)
    const batches: string[][] = []
    const batch = db.batch.bind(db)
    db.batch = ((ops: Array<{ type: string; key: string }>, options?: unknown) => {
      batches.push(ops.filter((op) => op.type === 'del' && op.key.startsWith('d\u0000')).map((op) => op.key))
      return batch(ops as never, options as never)
    }) as typeof db.batch
    let reclaims = 0
    const compactRange = db.compactRange.bind(db)
    db.compactRange = ((start: string, end: string) => {
      reclaims++
      return compactRange(start, end)
    }) as typeof db.compactRange
    await Promise.all(names.map((name) => store.compact(name)))
    await store.close()
    const compacting = batches.filter((keys) => keys.length > 0)
    expect(compacting).toHaveLength(names.length)
    for (const keys of compacting) {
      expect(keys).toHaveLength(20)
      expect(new Set(keys.map((key) => key.split('\u0000')[1])).size).toBe(1)
    }
    expect(reclaims).toBe(0)
    const reopened = await openStore(path)
    for (const [d, name] of names.entries()) {
      expect(await reopened.load(name)).toHaveLength(1)
      expect(textOf(await reopened.load(name))).toBe(sources[d]!.text.toString())
    }
  })

  it('asks LevelDB for the space of documents that merged away a megabyte, one range at a time and spaced out', async () => {
    // 20 records of 60 KB each: 1.2 MB merged away by one compaction.
    const { path, store, db, names, sources } = await typedDocuments('big', 4, (i) => `${i % 10}`.repeat(60_000))
    const calls: Array<{ start: string; began: number; ended: number }> = []
    let running = 0
    let mostAtOnce = 0
    const compactRange = db.compactRange.bind(db)
    db.compactRange = ((start: string, end: string) => {
      running++
      mostAtOnce = Math.max(mostAtOnce, running)
      const call = { start, began: performance.now(), ended: Number.NaN }
      calls.push(call)
      return compactRange(start, end).finally(() => {
        running--
        call.ended = performance.now()
      })
    }) as typeof db.compactRange
    await Promise.all(names.map((name) => store.compact(name)))
    await waitFor(
      'every range reclaimed',
      () => calls.length === names.length && !Number.isNaN(calls.at(-1)!.ended),
      20_000,
    )
    await store.close()
    expect(mostAtOnce).toBe(1)
    expect(calls.map((call) => call.start.split('\u0000')[1]).sort()).toEqual([...names].sort())
    // Reclaims take at most a tenth of the time: each waits nine times the last one's duration (less a margin for
    // the clock readings around it).
    for (let i = 1; i < calls.length; i++) {
      const last = calls[i - 1]!
      expect(calls[i]!.began - last.ended).toBeGreaterThanOrEqual(8 * (last.ended - last.began))
    }
    const reopened = await openStore(path)
    for (const [d, name] of names.entries()) expect(textOf(await reopened.load(name))).toBe(sources[d]!.text.toString())
  })

  it('lists a new document with its first write, then rewrites its listing entry at most once a second', async () => {
    // The entry was rewritten with every batch: one of the two LevelDB operations of each keystroke.
    const path = tempDir()
    const store = await LevelDocStore.open({ path })
    const db = (store as unknown as { db: ClassicLevel<string, Uint8Array> }).db
    let listingWrites = 0
    const batch = db.batch.bind(db)
    db.batch = ((ops: Array<{ type: string; key: string }>, options?: unknown) => {
      listingWrites += ops.filter((op) => op.key === infoKey('typed')).length
      return batch(ops as never, options as never)
    }) as typeof db.batch
    const source = new UpdateSource()
    await store.append('typed', source.type('a'))
    // On disk at once: a crash now still leaves the document listed.
    expect(await db.get(infoKey('typed'))).toBeDefined()
    expect(listingWrites).toBe(1)
    for (let i = 0; i < 30; i++) await store.append('typed', source.type('b'))
    expect(listingWrites).toBe(1)
    // The live figures are listed meanwhile.
    expect((await store.list()).find((doc) => doc.name === 'typed')?.records).toBe(31)
    await waitFor('the listing entry rewritten', () => listingWrites === 2, 3_000)
    const onDisk = JSON.parse(new TextDecoder().decode(await db.get(infoKey('typed')))) as { records: number }
    expect(onDisk.records).toBe(31)
    // What is due when the store closes is written before it does.
    await store.append('typed', source.type('c'))
    await store.close()
    expect(listingWrites).toBe(3)
    const reopened = await withRawDb(path, async (raw) => raw.get(infoKey('typed')))
    expect((JSON.parse(new TextDecoder().decode(reopened)) as { records: number }).records).toBe(32)
  })

  it('cannot open a directory another handle has open', async () => {
    const path = tempDir()
    await openStore(path)
    await expect(LevelDocStore.open({ path })).rejects.toThrow()
  })
})

function sortByName(docs: DocInfo[]): DocInfo[] {
  return [...docs].sort((a, b) => a.name.localeCompare(b.name))
}
