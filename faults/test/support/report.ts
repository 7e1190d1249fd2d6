/** Prints one line of measured figures, prefixed so that they are easy to find in CI output. */
export function report(fault: string, figures: Record<string, string | number | boolean>): void {
  const text = Object.entries(figures)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ')
  console.log(`[faults] ${fault}: ${text}`)
}
