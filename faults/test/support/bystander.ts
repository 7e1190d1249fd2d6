import * as Y from 'yjs'
import type { FaultClient } from './clients.js'

/** What one bystander measured over one window. */
export interface LatencyFigures {
  doc: string
  keystrokes: number
  /** Keystrokes the reader had not received when the window ended; they count at their age then. */
  unarrived: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** Times the writer or the reader left the `synced` state during the window. */
  disconnects: number
}

interface Keystroke {
  client: number
  clock: number
  at: number
}

/**
 * Two honest clients on one document: the writer types one character at a time at the end of the text, the
 * reader notes when each one arrives. The latency is keystroke to other client: what a person watching a
 * colleague type sees, through the server and back.
 */
export class Bystander {
  private pending: Keystroke[] = []
  private latencies: number[] = []
  private typed = 0
  private timer: NodeJS.Timeout | null = null
  private since = Date.now()

  constructor(
    readonly doc: string,
    readonly writer: FaultClient,
    readonly reader: FaultClient,
  ) {
    reader.doc.on('update', () => this.noteArrivals())
  }

  get synced(): boolean {
    return this.writer.provider.status.connection === 'synced' && this.reader.provider.status.connection === 'synced'
  }

  /** Starts a window: forgets earlier figures and types every `everyMs`, the first keystroke after `delayMs`. */
  start(everyMs: number, delayMs: number): void {
    this.stop()
    this.pending = []
    this.latencies = []
    this.since = Date.now()
    this.timer = setTimeout(() => {
      this.type()
      this.timer = setInterval(() => this.type(), everyMs)
    }, delayMs)
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  /** Stops typing, gives keystrokes under way up to `settleMs` to arrive, and returns the window's figures. */
  async end(settleMs: number): Promise<LatencyFigures> {
    this.stop()
    const started = Date.now()
    while (this.pending.length > 0 && Date.now() - started < settleMs) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    return this.figures()
  }

  /** Types one character and starts its clock. */
  private type(): void {
    const client = this.writer.doc.clientID
    // One inserted character is one clock tick of the writer: the keystroke has arrived once the reader's state
    // vector passes this clock.
    const clock = Y.getState(this.writer.doc.store, client)
    this.writer.text.insert(this.writer.text.length, String.fromCharCode(97 + (this.typed++ % 26)))
    this.pending.push({ client, clock, at: performance.now() })
  }

  private noteArrivals(): void {
    const now = performance.now()
    while (this.pending.length > 0) {
      const next = this.pending[0]!
      if (Y.getState(this.reader.doc.store, next.client) <= next.clock) return
      this.latencies.push(now - next.at)
      this.pending.shift()
    }
  }

  private figures(): LatencyFigures {
    const now = performance.now()
    const all = [...this.latencies, ...this.pending.map((k) => now - k.at)].sort((a, b) => a - b)
    const at = (q: number) => Math.round(all[Math.min(all.length - 1, Math.ceil(q * all.length) - 1)] ?? 0)
    const disconnects = [this.writer, this.reader]
      .flatMap((c) => c.statuses)
      .filter((s) => s.at >= this.since && s.status.connection !== 'synced').length
    return {
      doc: this.doc,
      keystrokes: all.length,
      unarrived: this.pending.length,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      maxMs: Math.round(all.at(-1) ?? 0),
      disconnects,
    }
  }

  /** The writer's updates that the server acknowledged as stored. */
  acknowledged(): Uint8Array[] {
    return this.writer.localUpdates.slice(0, this.writer.acked)
  }
}

/** Questions the test thread asks a bystander in its worker (bystander-worker.ts), and the answers. */
export interface BystanderCalls {
  status: { request: Record<string, never>; reply: { synced: boolean } }
  start: { request: { everyMs: number; delayMs: number }; reply: null }
  end: { request: { settleMs: number }; reply: LatencyFigures }
  acknowledged: { request: Record<string, never>; reply: Uint8Array[] }
  /** Which of the two clients hold a presence state for `clientID`. */
  awarenessHolders: { request: { clientID: number }; reply: string[] }
  /** The length of the text the reader holds. */
  readerLength: { request: Record<string, never>; reply: number }
}

/** One call on the wire: `id` pairs it with its answer. */
export type BystanderCall = {
  [K in keyof BystanderCalls]: { id: number; kind: K } & BystanderCalls[K]['request']
}[keyof BystanderCalls]

/** One answer on the wire. */
export type BystanderAnswer = { id: number; reply: unknown } | { id: number; error: string }

/** What the worker is started with. */
export interface BystanderSetup {
  serverUrl: string
  doc: string
}
