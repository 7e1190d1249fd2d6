import { describe, expect, it } from 'vitest'
import type { Connection } from '../src/connection.js'
import { judgeConnection } from '../src/liveness.js'

const policy = { connectionTimeoutMs: 6_000, probeAnswerMs: 2_500, maxQueuedBytes: 1_000, queueStallMs: 30_000 }

/** The parts of a connection the judge reads. */
function connection(lastSeen: number, unansweredProbeAt: number): Connection {
  return {
    lastSeen,
    unansweredProbeAt,
    sendQueueStalled: () => false,
    credentialsExpired: () => false,
  } as unknown as Connection
}

describe('judgeConnection [LV1]', () => {
  const now = 100_000
  it('does not call a connection dead for a silence nobody asked about (a sweep that came back late)', () => {
    expect(judgeConnection(connection(now - 12_000, 0), now, policy)).toBe('alive')
  })
  it('gives a probe sent late its time to be answered', () => {
    expect(judgeConnection(connection(now - 12_000, now - 1_000), now, policy)).toBe('alive')
  })
  it('calls it dead when it is silent past the timeout and left a probe unanswered long enough', () => {
    expect(judgeConnection(connection(now - 6_500, now - 2_500), now, policy)).toBe('dead')
    expect(judgeConnection(connection(now - 5_000, now - 2_500), now, policy)).toBe('alive')
  })
})
