import type { Page } from '@playwright/test'
import { clockOffset } from '../../scripts/chromium.mjs'

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
