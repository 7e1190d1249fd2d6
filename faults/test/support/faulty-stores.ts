import type { DocInfo, DocStore } from '@collab/storage'

/**
 * A store whose writes fail while {@link FailingStore.failing} is set, the way a full disk or an I/O error makes
 * LevelDB fail: every append and compaction rejects; reads still work.
 */
export class FailingStore implements DocStore {
  failing = false
  /** Writes refused so far. */
  refused = 0

  constructor(private readonly inner: DocStore) {}

  load(name: string): Promise<Uint8Array[]> {
    return this.inner.load(name)
  }

  append(name: string, update: Uint8Array): Promise<void> {
    if (this.failing) return this.refuse()
    return this.inner.append(name, update)
  }

  needsCompaction(name: string): boolean {
    return this.inner.needsCompaction(name)
  }

  compact(name: string, snapshot?: Uint8Array): Promise<void> {
    if (this.failing) return this.refuse()
    return this.inner.compact(name, snapshot)
  }

  list(): Promise<DocInfo[]> {
    return this.inner.list()
  }

  tombstone(name: string): Promise<Uint8Array | null> {
    if (this.failing) return this.refuse()
    return this.inner.tombstone(name)
  }

  incarnation(name: string): Promise<string> {
    if (this.failing) return this.refuse()
    return this.inner.incarnation(name)
  }

  delete(name: string, stateVector?: Uint8Array): Promise<void> {
    if (this.failing) return this.refuse()
    return this.inner.delete(name, stateVector)
  }

  flush(): Promise<void> {
    return this.inner.flush()
  }

  close(): Promise<void> {
    return this.inner.close()
  }

  private refuse(): Promise<never> {
    this.refused++
    return Promise.reject(new Error('EIO: i/o error, write (injected by the fault suite)'))
  }
}

/**
 * A store in front of a real one whose writes take `latencyMs` to get there, as on a slow or busy disk: appends
 * wait in this process's memory, in order, and reach the real store together. {@link SlowDiskStore.crash} drops
 * whatever has not reached it yet, which is exactly what `kill -9` does to a process that has not written it.
 * The wide window between "received" and "stored" is what makes a premature acknowledgement show.
 */
export class SlowDiskStore implements DocStore {
  private queue: Array<{ name: string; update: Uint8Array; resolve: () => void; reject: (err: unknown) => void }> = []
  private timer: NodeJS.Timeout | null = null
  private crashed = false

  constructor(
    private readonly inner: DocStore,
    private readonly latencyMs: number,
  ) {}

  load(name: string): Promise<Uint8Array[]> {
    return this.inner.load(name)
  }

  append(name: string, update: Uint8Array): Promise<void> {
    // A dead process never learns how its writes went.
    if (this.crashed) return new Promise<void>(() => undefined)
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ name, update: update.slice(), resolve, reject })
      this.timer ??= setTimeout(() => this.reachDisk(), this.latencyMs)
    })
  }

  needsCompaction(name: string): boolean {
    return this.inner.needsCompaction(name)
  }

  async compact(name: string, snapshot?: Uint8Array): Promise<void> {
    // Everything appended before must be on disk before a snapshot replaces it.
    await this.flush()
    if (this.crashed) return new Promise<void>(() => undefined)
    return this.inner.compact(name, snapshot)
  }

  list(): Promise<DocInfo[]> {
    return this.inner.list()
  }

  tombstone(name: string): Promise<Uint8Array | null> {
    return this.inner.tombstone(name)
  }

  incarnation(name: string): Promise<string> {
    return this.inner.incarnation(name)
  }

  delete(name: string, stateVector?: Uint8Array): Promise<void> {
    return this.inner.delete(name, stateVector)
  }

  async flush(): Promise<void> {
    if (this.crashed) return new Promise<void>(() => undefined)
    if (this.queue.length > 0) {
      const last = this.queue.at(-1)!
      await new Promise<void>((resolve, reject) => {
        const { resolve: done, reject: failed } = last
        last.resolve = () => {
          done()
          resolve()
        }
        last.reject = (err) => {
          failed(err)
          reject(err)
        }
      })
    }
    return this.inner.flush()
  }

  close(): Promise<void> {
    return this.inner.close()
  }

  /** Stops every write from reaching the real store from now on, and forgets those still on their way. */
  crash(): void {
    this.crashed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.queue = []
  }

  private reachDisk(): void {
    this.timer = null
    const writes = this.queue
    this.queue = []
    // Handed over in order, in one tick: the real store keeps each document's order and batches them.
    for (const write of writes) this.inner.append(write.name, write.update).then(write.resolve, write.reject)
  }
}
