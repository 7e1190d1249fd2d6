import { describe, expect, it } from 'vitest'
import { InstanceLiveness } from '../src/instance-liveness.js'
import { compareStreamIds } from '../src/stream-ids.js'

describe('InstanceLiveness', () => {
  it('declares an instance gone once a read issued well after its last heartbeat completed', () => {
    const liveness = new InstanceLiveness(7_000)
    liveness.seen('a', 1_000)
    liveness.readCompleted(5_000)
    expect(liveness.collectGone()).toEqual([])
    liveness.readCompleted(8_001)
    expect(liveness.collectGone()).toEqual(['a'])
    // Gone once: it is forgotten until it is heard from again.
    expect(liveness.collectGone()).toEqual([])
  })

  it('declares nobody gone while its own reads do not complete (its connection is down)', () => {
    const liveness = new InstanceLiveness(7_000)
    liveness.seen('a', 1_000)
    liveness.readCompleted(2_000)
    // Time passes, but no read was issued and completed meanwhile.
    expect(liveness.collectGone()).toEqual([])
    // Back after 20 s: everyone gets a fresh deadline instead of being declared dead for our silence.
    liveness.forgiveAll(22_000)
    liveness.readCompleted(23_000)
    expect(liveness.collectGone()).toEqual([])
  })

  it('keeps an instance that keeps publishing', () => {
    const liveness = new InstanceLiveness(7_000)
    for (let t = 0; t < 60_000; t += 2_000) {
      liveness.seen('a', t)
      liveness.readCompleted(t + 1_000)
      expect(liveness.collectGone()).toEqual([])
    }
  })
})

describe('stream ids', () => {
  it('orders by milliseconds, then by sequence', () => {
    expect(compareStreamIds('1-5', '2-0')).toBeLessThan(0)
    expect(compareStreamIds('2-10', '2-9')).toBeGreaterThan(0)
    expect(compareStreamIds('3-1', '3-1')).toBe(0)
  })
})
