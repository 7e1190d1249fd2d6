import { describe, expect, it } from 'vitest'
import { backoffDelay, defaultHeartbeat, heartbeatVerdict } from '../src/index.js'

describe('backoffDelay', () => {
  it('grows exponentially, is capped, and is fully jittered', () => {
    const policy = { baseMs: 100, maxMs: 1_000 }
    expect(backoffDelay(0, policy, () => 0.999)).toBe(99)
    expect(backoffDelay(3, policy, () => 0.999)).toBe(799)
    expect(backoffDelay(10, policy, () => 0.999)).toBe(999)
    expect(backoffDelay(10, policy, () => 0)).toBe(0)
  })
})

describe('[HB1] heartbeatVerdict', () => {
  const p = defaultHeartbeat
  it('pings after idleMs of silence', () => {
    expect(heartbeatVerdict(1_000, 0, 0, p)).toBe('ok')
    expect(heartbeatVerdict(2_000, 0, 0, p)).toBe('ping')
  })
  it('declares death only when a ping went unanswered long enough', () => {
    expect(heartbeatVerdict(6_000, 0, 3_000, p)).toBe('dead')
    expect(heartbeatVerdict(6_000, 0, 3_500, p)).toBe('ok')
    expect(heartbeatVerdict(5_900, 0, 3_000, p)).toBe('ok')
  })
  it('does not raise a false alarm after a throttled background tab wakes up', () => {
    // Last heard at 0, no ping sent since (timers were throttled); a minute later the first tick must ping.
    expect(heartbeatVerdict(60_000, 0, 0, p)).toBe('ping')
    // The ping went out at 60 s; one second later it is not yet dead.
    expect(heartbeatVerdict(61_000, 0, 60_000, p)).toBe('ok')
    expect(heartbeatVerdict(63_000, 0, 60_000, p)).toBe('dead')
  })
})
