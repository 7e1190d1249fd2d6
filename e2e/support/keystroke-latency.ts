import type { Page } from '@playwright/test'

const clock = (page: Page) => page.evaluate(() => performance.timeOrigin + performance.now())

/**
 * How far tab B's clock is ahead of tab A's. Chromium's clocks disagree across renderer processes by several ms,
 * so estimate the offset NTP-style: read A, B, A in a row and keep the sample with the shortest bracket.
 */
export async function clockOffset(a: Page, b: Page): Promise<{ offset: number; uncertainty: number }> {
  let best = { offset: 0, uncertainty: Number.POSITIVE_INFINITY }
  for (let i = 0; i < 30; i++) {
    const before = await clock(a)
    const other = await clock(b)
    const after = await clock(a)
    const uncertainty = (after - before) / 2
    if (uncertainty < best.uncertainty) best = { offset: other - (before + after) / 2, uncertainty }
  }
  return best
}

/**
 * Starts recording, in the page, the time and the text's length after every change of its document. Unlike a count
 * of update events, lengths still tell when each keystroke arrived where several arrive in one update (the HTTP
 * transport answers a poll with everything queued for it, merged).
 */
export async function recordLengths(page: Page): Promise<void> {
  await page.evaluate(() => {
    const editor = window.collab?.editor
    if (!editor) throw new Error('no editor on the page')
    const samples: Array<[number, number]> = []
    ;(window as unknown as { lengthSamples: Array<[number, number]> }).lengthSamples = samples
    editor.doc.on('update', () => samples.push([performance.timeOrigin + performance.now(), editor.ytext.length]))
  })
}

async function lengthSamples(page: Page): Promise<Array<[number, number]>> {
  return page.evaluate(() => (window as unknown as { lengthSamples: Array<[number, number]> }).lengthSamples)
}

/**
 * The delivery time of every keystroke typed at the end of the document in `from` since {@link recordLengths}: from
 * the change in `from` to the first moment `to` held a text that long, corrected for the tabs' clock offset. Sorted.
 */
export async function keystrokeDelays(from: Page, to: Page): Promise<{ delays: number[]; offset: number }> {
  const sent = await lengthSamples(from)
  const received = await lengthSamples(to)
  const { offset } = await clockOffset(from, to)
  const delays: number[] = []
  for (const [at, length] of sent) {
    const arrival = received.find(([, receivedLength]) => receivedLength >= length)
    if (!arrival) throw new Error(`the keystroke that made the text ${length} long never arrived`)
    delays.push(arrival[0] - offset - at)
  }
  return { delays: delays.sort((x, y) => x - y), offset }
}

/** The `p`th percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}
