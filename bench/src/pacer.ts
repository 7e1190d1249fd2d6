/**
 * Calls `tick(index)` at `start + index * intervalMs` for `count` ticks, correcting for timer drift so the
 * rate holds on average even when a tick fires late. Resolves after the last tick.
 */
export function paced(intervalMs: number, count: number, tick: (index: number) => void): Promise<void> {
  return new Promise((resolve) => {
    const start = performance.now()
    let index = 0
    const step = () => {
      const now = performance.now()
      while (index < count && start + index * intervalMs <= now) tick(index++)
      if (index >= count) {
        resolve()
        return
      }
      setTimeout(step, Math.max(0, start + index * intervalMs - performance.now()))
    }
    step()
  })
}
