/** A document as far as its rewrites are concerned. */
export interface Rewritable {
  /** The rewrite replacing the document's records, if one runs; settles (never rejects) when it ends. */
  rewriting: Promise<void> | null
}

/**
 * The rewrites of a store's documents (compactions, compactions on load, deletions): at most one per document at a
 * time, so that no snapshot is written after a deletion or over another snapshot, and all of them for `close`.
 */
export class Rewrites {
  private readonly running = new Set<Promise<void>>()

  /** Runs `work` as the rewrite of `doc` (which must have none running) and returns its outcome. */
  start(doc: Rewritable, work: () => Promise<void>): Promise<void> {
    if (doc.rewriting) throw new Error('a rewrite of this document is already running')
    const outcome = work()
    const ended = (): void => {
      this.running.delete(settled)
      if (doc.rewriting === settled) doc.rewriting = null
    }
    // The outcome goes to the caller; this copy only marks the end, whichever way it went.
    const settled: Promise<void> = outcome.then(ended, ended)
    doc.rewriting = settled
    this.running.add(settled)
    return outcome
  }

  /**
   * Runs `work` as the rewrite of `doc` once the one running (if any) has ended: a deletion must not run beside a
   * compaction that would write its snapshot afterwards. Checked and started in one step, so nothing slips between.
   */
  async startWhenIdle(doc: Rewritable, work: () => Promise<void>): Promise<void> {
    while (doc.rewriting) await doc.rewriting
    return this.start(doc, work)
  }

  /** Resolves once every rewrite started so far has ended. */
  async settled(): Promise<void> {
    await Promise.all(this.running)
  }
}
