/**
 * A token bucket: `ratePerSecond` tokens flow in continuously up to `burst`; taking more than there are fails.
 * Time comes from the caller, so the bucket is exact under test and costs nothing between messages.
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

  /** Takes `amount` tokens if there are enough; returns whether it could. */
  take(amount: number, now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.ratePerSecond)
    this.updatedAt = now
    if (amount > this.tokens) return false
    this.tokens -= amount
    return true
  }
}
