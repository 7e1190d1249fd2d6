import { waitFor } from '@collab/test-support'

/** Resolves after `ms`. Only for waits that are the point of the test (a random kill moment, typing time). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Resolves with what `promise` resolves to, or rejects naming `what` if that takes longer than `timeoutMs`. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * `waitFor` for a test that reports what did not happen instead of stopping there: the wait in ms, or `null` when
 * `condition` did not hold within `timeoutMs`. Errors of the condition itself still reject.
 */
export function waitOrNull(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<number | null> {
  return waitFor(what, condition, timeoutMs).catch((err: unknown) => {
    if (err instanceof Error && err.message === `timed out after ${timeoutMs} ms waiting for ${what}`) return null
    throw err
  })
}
