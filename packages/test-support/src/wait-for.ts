/**
 * Polls `condition` every 10 ms until it holds; rejects naming `what` after `timeoutMs`. Resolves to the wait in ms.
 * The condition may be async (an HTTP poll); it is never called again before its previous call settled.
 */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<number> {
  const started = Date.now()
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return Date.now() - started
}
