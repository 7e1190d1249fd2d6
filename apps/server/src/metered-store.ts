import type { DocInfo, DocStore, SideWrite } from '@collab/storage'

/** What {@link MeteredDocStore} reports. */
export interface StoreMetrics {
  /** An update became durable `seconds` after it was handed to the store. */
  appended(seconds: number, bytes: number): void
  compacted(seconds: number): void
  failed(operation: 'append' | 'compact'): void
}

/**
 * A {@link DocStore} that times its writes: the engine sees the same store, the metrics see every append and
 * compaction, whoever asked for it (a room, an unload, the HTTP API).
 */
export class MeteredDocStore implements DocStore {
  constructor(
    private readonly inner: DocStore,
    private readonly metrics: StoreMetrics,
  ) {
    // Side records only where the inner store keeps them: their absence is how the engine knows ([OT9]).
    if (inner.readSide && inner.writeSide) {
      const { readSide, writeSide } = inner
      this.readSide = (name, prefix) => readSide.call(inner, name, prefix)
      this.writeSide = (name, writes) => writeSide.call(inner, name, writes)
    }
  }

  readonly readSide?: DocStore['readSide']
  readonly writeSide?: DocStore['writeSide']

  load(name: string): Promise<Uint8Array[]> {
    return this.inner.load(name)
  }

  append(name: string, update: Uint8Array, side?: readonly SideWrite[]): Promise<void> {
    const started = performance.now()
    const bytes = update.length
    // `then` rather than an async function: this runs once per keystroke, and the extra promise is all it costs.
    return this.inner.append(name, update, side).then(
      () => this.metrics.appended((performance.now() - started) / 1000, bytes),
      (err: unknown) => {
        this.metrics.failed('append')
        throw err
      },
    )
  }

  needsCompaction(name: string): boolean {
    return this.inner.needsCompaction(name)
  }

  compact(name: string, snapshot?: Uint8Array): Promise<void> {
    const started = performance.now()
    return this.inner.compact(name, snapshot).then(
      () => this.metrics.compacted((performance.now() - started) / 1000),
      (err: unknown) => {
        this.metrics.failed('compact')
        throw err
      },
    )
  }

  list(): Promise<DocInfo[]> {
    return this.inner.list()
  }

  async forget(name: string): Promise<void> {
    await this.inner.forget?.(name)
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

  flush(): Promise<void> {
    return this.inner.flush()
  }

  close(): Promise<void> {
    return this.inner.close()
  }
}
