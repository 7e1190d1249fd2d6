/**
 * Save acknowledgements of one connection ([SA1]): the client and the server count the same document messages, so
 * "your first N document messages are stored" is one number. Acknowledgements that become due in the same write
 * are sent as one. A message the server could not apply yet (its dependencies are missing, [SY4]) holds the count
 * below it until a later sync step 2 from the client, which carries what was missing, is stored.
 */
export class SaveAcks {
  /** Document messages received so far. */
  private received = 0
  private target = 0
  private sent = 0
  private scheduled = false
  /** The first message that was not stored; acknowledgements stop below it. */
  private heldAt: number | null = null
  /** The sync step 2 that answers the hold: once it is stored, the hold ends. */
  private releasedBy: number | null = null

  constructor(private readonly sendSaved: (count: number) => void) {}

  /** Numbers the next document message. */
  next(): number {
    return ++this.received
  }

  /** Message `seq` could not be stored: nothing from it on is acknowledged until a later sync step 2 is. */
  hold(seq: number): void {
    if (this.heldAt === null) this.heldAt = seq
    this.releasedBy = null
  }

  /** Message `seq` is a sync step 2 that was applied: once it is stored, the hold ends. */
  answeredBy(seq: number): void {
    if (this.heldAt !== null && seq > this.heldAt) this.releasedBy = seq
  }

  /** The first `count` document messages are stored (or were duplicates of what is). */
  stored(count: number): void {
    if (this.releasedBy !== null && count >= this.releasedBy) {
      this.heldAt = null
      this.releasedBy = null
    }
    const allowed = this.heldAt === null ? count : Math.min(count, this.heldAt - 1)
    if (allowed <= this.target) return
    this.target = allowed
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      if (this.target > this.sent) {
        this.sent = this.target
        this.sendSaved(this.sent)
      }
    })
  }
}
