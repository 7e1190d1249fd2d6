/**
 * A token bucket: `ratePerSecond` tokens flow in continuously up to `burst`. Charges always succeed and may leave
 * the bucket in debt (a message is only measured once it has been read); {@link TokenBucket.waitMs} says how long
 * until the debt is paid. Time comes from the caller, so the bucket is exact under test and costs nothing between
 * messages.
 */
export class TokenBucket {
  private tokens: number
  private updatedAt: number

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst
    this.updatedAt = now
  }

  /** Takes `amount` tokens, going into debt if there are not enough. */
  charge(amount: number, now: number): void {
    this.refill(now)
    this.tokens -= amount
  }

  /** Milliseconds until the bucket is out of debt; 0 when it is not in debt. */
  waitMs(now: number): number {
    this.refill(now)
    // Refills in small steps add up with rounding errors; a debt below a millionth of a token is none.
    return this.tokens >= -1e-6 ? 0 : this.msUntil(0)
  }

  /**
   * Milliseconds until the bucket holds `tokens` (at most its burst), for a caller that would rather wait a little
   * longer and then do several things at once than wake up for each token.
   */
  waitForMs(tokens: number, now: number): number {
    this.refill(now)
    const target = Math.min(tokens, this.burst)
    return this.tokens >= target - 1e-6 ? 0 : this.msUntil(target)
  }

  private msUntil(target: number): number {
    return Math.ceil(((target - this.tokens) / this.ratePerSecond) * 1000)
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.ratePerSecond)
    this.updatedAt = now
  }
}
