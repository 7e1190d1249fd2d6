import * as Y from 'yjs'

/**
 * Keystrokes made in advance by one Y.Doc typing one character at the end of its text per keystroke, so keystroke
 * `n` is clock `n` of {@link KeystrokeSequence.clientId}. Every writer of a workload may send the same sequence, each
 * into its own document.
 *
 * Why not count received updates: a server may relay several keystrokes of one writer as one update (ours does when
 * they arrive in one socket read under load, [SU4]), and may re-encode them. Counting messages then matches every
 * later keystroke with an earlier one's send time, so a single merge inflates every latency after it by a keystroke
 * interval, for good: what made "latency does not recover after an overload" (issue 19) appear in the capacity
 * workload. A keystroke has arrived once an update reaches past its clock.
 */
export class KeystrokeSequence {
  readonly clientId: number
  private readonly updates: Uint8Array[] = []

  constructor(readonly length: number) {
    const doc = new Y.Doc()
    this.clientId = doc.clientID
    const text = doc.getText('codemirror')
    doc.on('update', (update: Uint8Array) => this.updates.push(update))
    for (let i = 0; i < length; i++) text.insert(text.length, String.fromCharCode(97 + (i % 26)))
    doc.destroy()
  }

  /** The update of keystroke `index`; a RangeError past the end (resending would be ignored as a duplicate). */
  update(index: number): Uint8Array {
    const update = this.updates[index]
    if (!update) throw new RangeError(`keystroke ${index} of ${this.updates.length} made in advance`)
    return update
  }

  /** How many of this sequence's keystrokes `update` holds the end of: every keystroke below that has arrived. */
  reachedBy(update: Uint8Array): number | undefined {
    return Y.parseUpdateMeta(update).to.get(this.clientId)
  }
}

/**
 * Arrival of one writer's keystrokes at one reader: {@link KeystrokeArrivals.sent} when a keystroke leaves,
 * {@link KeystrokeArrivals.received} for every update the reader gets; each keystroke's latency is reported once,
 * by the first update that reaches past its clock.
 */
export class KeystrokeArrivals {
  /** Send times of keystrokes not yet arrived, by clock; `arrived` is the clock of the first of them. */
  private sentAt: number[] = []
  private arrived = 0

  constructor(
    private readonly sequence: KeystrokeSequence,
    private readonly onArrival: (latencyMs: number, sentAt: number) => void,
  ) {}

  /** Keystroke `clock` was sent at `at`. */
  sent(clock: number, at: number): void {
    this.sentAt[clock - this.arrived] = at
  }

  /** Keystrokes sent and not arrived. */
  get pending(): number {
    return this.sentAt.length
  }

  received(update: Uint8Array, at: number): void {
    if (this.sentAt.length === 0) return
    const reached = this.sequence.reachedBy(update)
    if (reached === undefined || reached <= this.arrived) return
    const count = Math.min(reached - this.arrived, this.sentAt.length)
    for (let i = 0; i < count; i++) this.onArrival(at - this.sentAt[i]!, this.sentAt[i]!)
    this.sentAt = this.sentAt.slice(count)
    this.arrived += count
  }
}
