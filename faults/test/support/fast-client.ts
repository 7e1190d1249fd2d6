import type { Worker } from 'node:worker_threads'
import type { CloseRecord } from './raw-client.js'
import type { Teardown } from './teardown.js'
import { startWorker } from './worker.js'

// A stock y-websocket 3.1.0 client that types a recorded editing session as fast as it can, in a worker thread
// (fast-client-worker.ts) so that its sends do not share an event loop with the clients that measure latency.

/** What the worker is started with. */
export interface FastClientSetup {
  serverUrl: string
  docName: string
  /** The trace to type (see loadTrace). */
  trace: string
  /**
   * `stock`: y-websocket's own rule (a 44xx close is final), as an import script would run it. `always`: reconnect
   * after any close, as a hostile flooder would.
   */
  reconnect: 'stock' | 'always'
}

/** Commands to the worker. */
export type FastClientCommand =
  /** Types the first `txns` transactions exactly, all at once, then reports the text. */
  | { kind: 'replay'; txns: number }
  /** Types the trace round and round, keeping the socket's send buffer full, until `stop`. */
  | { kind: 'flood' }
  /** Encodes the flood's messages in advance, so that flooding costs the client nothing but writing them. */
  | { kind: 'prepare-flood' }
  | { kind: 'stop' }

/** Reports from the worker. */
export type FastClientEvent =
  | { kind: 'synced' }
  | ({ kind: 'close' } & CloseRecord)
  | { kind: 'replayed'; text: string; ms: number }
  | { kind: 'stopped'; updates: number }
  | { kind: 'prepared'; messages: number }
  | { kind: 'error'; message: string }

interface Waiter {
  kind: FastClientEvent['kind']
  resolve(event: FastClientEvent): void
  reject(err: Error): void
}

/** The test thread's handle on a fast client in a worker. */
export class FastClient {
  /** Every close of the client's connection, as the client saw it. */
  readonly closes: CloseRecord[] = []
  readonly synced: Promise<void>
  private readonly worker: Worker
  private waiters: Waiter[] = []
  private failure: Error | null = null

  constructor(setup: FastClientSetup, teardown: Teardown) {
    this.worker = startWorker('fast-client-worker.ts', setup, teardown)
    this.worker.on('message', (event: FastClientEvent) => this.onEvent(event))
    this.worker.on('error', (err) => this.fail(err))
    this.synced = this.next('synced').then(() => undefined)
  }

  /** Types the first `txns` transactions of the trace as fast as the client can; resolves with the text then. */
  async replay(txns: number): Promise<{ text: string; ms: number }> {
    const done = this.next('replayed')
    this.post({ kind: 'replay', txns })
    const event = await done
    return event.kind === 'replayed' ? { text: event.text, ms: event.ms } : { text: '', ms: 0 }
  }

  /** Encodes the flood in advance (see the worker); resolves with the number of messages it holds. */
  async prepareFlood(): Promise<number> {
    const done = this.next('prepared')
    this.post({ kind: 'prepare-flood' })
    const event = await done
    return event.kind === 'prepared' ? event.messages : 0
  }

  startFlood(): void {
    this.post({ kind: 'flood' })
  }

  /** Stops the flood; resolves with the number of updates the client made. */
  async stopFlood(): Promise<number> {
    const done = this.next('stopped')
    this.post({ kind: 'stop' })
    const event = await done
    return event.kind === 'stopped' ? event.updates : 0
  }

  private onEvent(event: FastClientEvent): void {
    if (event.kind === 'close') this.closes.push({ code: event.code, reason: event.reason, at: event.at })
    if (event.kind === 'error') {
      this.fail(new Error(`the fast client failed: ${event.message}`))
      return
    }
    const waiting = this.waiters.filter((w) => w.kind === event.kind)
    this.waiters = this.waiters.filter((w) => w.kind !== event.kind)
    for (const waiter of waiting) waiter.resolve(event)
  }

  private post(command: FastClientCommand): void {
    if (this.failure) throw this.failure
    this.worker.postMessage(command)
  }

  /** The next event of `kind`; rejects if the worker fails first. */
  private next(kind: FastClientEvent['kind']): Promise<FastClientEvent> {
    if (this.failure) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => this.waiters.push({ kind, resolve, reject }))
  }

  private fail(err: Error): void {
    this.failure = err
    for (const waiter of this.waiters.splice(0)) waiter.reject(err)
  }
}
