/** How reconnect delays grow. */
export interface BackoffPolicy {
  /** Upper bound of the first delay, in ms. */
  baseMs: number
  /** Upper bound of any delay, in ms. */
  maxMs: number
}

export const defaultBackoff: BackoffPolicy = { baseMs: 500, maxMs: 15_000 }

/**
 * Exponential backoff with full jitter: a uniformly random delay between 0 and `base * 2^failures`, capped.
 * Full jitter spreads a crowd of clients that lost the same server over the whole window instead of
 * sending them back in waves.
 */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(failures, 30))
  return Math.floor(random() * ceiling)
}
