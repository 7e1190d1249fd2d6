/**
 * Which other instances are alive, judged from their heartbeats as this instance's reader saw them.
 *
 * An instance is declared gone when the reader completed a read *issued* more than `deadAfterMs` after the last
 * sign of life from that instance: such a read would have returned any heartbeat sent before it was issued. So an
 * instance whose own connection to Redis is down (or whose event loop stalls) declares nobody dead: its reads do
 * not complete.
 */
export class InstanceLiveness {
  private readonly lastSeen = new Map<string, number>()
  /** When the latest completed read was issued. */
  private readIssuedAt = 0

  constructor(private readonly deadAfterMs: number) {}

  /** Instance `id` published something (a heartbeat or a message) and this instance read it at `now`. */
  seen(id: string, now: number): void {
    this.lastSeen.set(id, now)
  }

  /** A read issued at `issuedAt` completed (with or without entries). */
  readCompleted(issuedAt: number): void {
    this.readIssuedAt = Math.max(this.readIssuedAt, issuedAt)
  }

  /**
   * This instance could not hear anyone for a while (its connection was down): everyone gets a fresh deadline
   * instead of being declared dead for a silence that was ours.
   */
  forgiveAll(now: number): void {
    for (const id of this.lastSeen.keys()) this.lastSeen.set(id, now)
  }

  /** Forgets `id` (it said goodbye); returns whether it was known. */
  forget(id: string): boolean {
    return this.lastSeen.delete(id)
  }

  /** The instances that are now to be declared gone; they are forgotten. */
  collectGone(): string[] {
    const gone: string[] = []
    for (const [id, seenAt] of this.lastSeen) {
      if (this.readIssuedAt - seenAt > this.deadAfterMs) gone.push(id)
    }
    for (const id of gone) this.lastSeen.delete(id)
    return gone
  }
}
