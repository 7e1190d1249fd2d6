/**
 * Polls `condition` every `intervalMs` until it holds; rejects naming `what` after `timeoutMs`. Resolves to the
 * wait in ms. The condition may be async (an HTTP poll); it is never called again before its previous call
 * settled. `what` may be a function, for a message that shows the state at the time of the failure.
 */
export async function waitFor(
  what: string | (() => string),
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  intervalMs = 10,
): Promise<number> {
  const started = Date.now()
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`)
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
  return Date.now() - started
}
