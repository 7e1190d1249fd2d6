import { expect, test } from '../support/fixtures.js'

// A measurement, not a timing assertion (timing goals live in bench/): keystroke in tab A to the change applied
// in tab B, over 200 real key presses, timed in the browser. Both tabs read the same system clock with Date.now()
// (performance.timeOrigin differs between renderer processes by a millisecond or two).
test('keystroke-to-other-tab latency over 200 keystrokes', async ({ openDoc }) => {
  const a = await openDoc('latency', { user: 'Writer' })
  const b = await openDoc('latency', { user: 'Reader' })
  const record = () => {
    const times: number[] = []
    window.collab?.editor.doc.on('update', () => times.push(Date.now()))
    ;(window as unknown as { updateTimes: number[] }).updateTimes = times
  }
  await a.page.evaluate(record)
  await b.page.evaluate(record)
  const keystrokes = 200
  const text = 'the quick brown fox jumps over the lazy dog '.repeat(5).slice(0, keystrokes)
  await a.typeAtEnd(text, 25)
  await b.expectText(text)
  const times = async (page: typeof a.page) =>
    page.evaluate(() => (window as unknown as { updateTimes: number[] }).updateTimes)
  const sent = await times(a.page)
  const received = await times(b.page)
  expect(sent).toHaveLength(keystrokes)
  expect(received).toHaveLength(keystrokes)
  const latencies = sent.map((t, i) => received[i]! - t).sort((x, y) => x - y)
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!
  const summary = `p50 ${pct(50).toFixed(1)} ms, p95 ${pct(95).toFixed(1)} ms, max ${pct(100).toFixed(1)} ms`
  console.log(`keystroke to other tab over ${keystrokes} keystrokes: ${summary}`)
  test.info().annotations.push({ type: 'keystroke latency', description: summary })
  expect(latencies[0]).toBeGreaterThanOrEqual(-1)
})
