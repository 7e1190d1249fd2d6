import type { Worker } from 'node:worker_threads'
import { waitFor } from '@collab/test-support'
import type { BystanderAnswer, BystanderCall, BystanderCalls, BystanderSetup, LatencyFigures } from './bystander.js'
import type { Teardown } from './teardown.js'
import { startWorker } from './worker.js'

export type { LatencyFigures }

/** A measurement window: honest typing from its start until `end`. */
export interface LatencyWindow {
  /**
   * Stops typing, gives keystrokes still under way up to `settleMs` to arrive, and returns one figure per
   * bystander.
   */
  end(settleMs?: number): Promise<LatencyFigures[]>
}

/** The test thread's handle on one bystander pair (bystander.ts) in its own worker thread. */
export class BystanderHandle {
  private readonly worker: Worker
  private nextId = 1
  private readonly calls = new Map<number, { resolve(reply: unknown): void; reject(err: Error): void }>()
  private failure: Error | null = null

  constructor(
    serverUrl: string,
    readonly doc: string,
    teardown: Teardown,
  ) {
    this.worker = startWorker('bystander-worker.ts', { serverUrl, doc } satisfies BystanderSetup, teardown)
    this.worker.on('message', (answer: BystanderAnswer) => {
      const call = this.calls.get(answer.id)
      this.calls.delete(answer.id)
      if ('error' in answer) call?.reject(new Error(`bystander on "${doc}": ${answer.error}`))
      else call?.resolve(answer.reply)
    })
    this.worker.on('error', (err) => {
      this.failure = err
      for (const call of this.calls.values()) call.reject(err)
      this.calls.clear()
    })
  }

  /** Asks the bystander something; see {@link BystanderCalls}. */
  call<K extends keyof BystanderCalls>(
    kind: K,
    request: BystanderCalls[K]['request'],
  ): Promise<BystanderCalls[K]['reply']> {
    if (this.failure) return Promise.reject(this.failure)
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve: (reply) => resolve(reply as BystanderCalls[K]['reply']), reject })
      this.worker.postMessage({ id, kind, ...request } as BystanderCall)
    })
  }
}

/** Options of {@link Bystanders}. */
export interface BystanderOptions {
  /** Time between two keystrokes of each writer. Default 40 ms, a fast typist. */
  everyMs?: number
}

/**
 * Honest clients on several documents, typing and measuring while a test does something to the server. Each
 * pair runs in a worker thread of its own, so that neither the test's own work nor what another document's
 * clients receive can delay its timers: what it measures is the server.
 */
export class Bystanders {
  readonly list: BystanderHandle[]
  private readonly everyMs: number

  constructor(serverUrl: string, docs: readonly string[], teardown: Teardown, options: BystanderOptions = {}) {
    this.everyMs = options.everyMs ?? 40
    this.list = docs.map((doc) => new BystanderHandle(serverUrl, doc, teardown))
  }

  /** Resolves once every bystander's two clients are synced. */
  async ready(timeoutMs = 15_000): Promise<void> {
    await waitFor(
      'the bystanders to sync',
      async () => (await Promise.all(this.list.map((b) => b.call('status', {})))).every((s) => s.synced),
      timeoutMs,
    )
  }

  /** Starts typing on every document; keystrokes are spread over the interval so writers do not type in step. */
  async start(): Promise<LatencyWindow> {
    await Promise.all(
      this.list.map((b, i) =>
        b.call('start', { everyMs: this.everyMs, delayMs: (i * this.everyMs) / this.list.length }),
      ),
    )
    return { end: (settleMs = 2_000) => Promise.all(this.list.map((b) => b.call('end', { settleMs }))) }
  }

  /** Types for `ms` with nothing else going on: a baseline to compare a window under attack with. */
  async measureFor(ms: number): Promise<LatencyFigures[]> {
    const window = await this.start()
    await new Promise((resolve) => setTimeout(resolve, ms))
    return window.end()
  }
}

/** The worst figure of a window, for one-line assertions and reports. */
export function worst(figures: readonly LatencyFigures[]): { maxMs: number; p99Ms: number; disconnects: number } {
  return {
    maxMs: Math.max(0, ...figures.map((f) => f.maxMs)),
    p99Ms: Math.max(0, ...figures.map((f) => f.p99Ms)),
    disconnects: figures.reduce((sum, f) => sum + f.disconnects, 0),
  }
}

/** `doc=p50/p99/max` for each bystander, for report lines. */
export function describeLatency(figures: readonly LatencyFigures[]): string {
  return figures
    .map(
      (f) =>
        `${f.doc}=${f.p50Ms}/${f.p99Ms}/${f.maxMs}ms(n=${f.keystrokes},late=${f.unarrived},drops=${f.disconnects})`,
    )
    .join(',')
}
