import type { Connection } from './connection.js'

/** The timing of connection liveness ([LV1]) and the send-queue bound ([LM6]). */
export interface LivenessPolicy {
  /**
   * A connection heard from (message, pong, or a send queue that drained) longer ago than this is dead, once a
   * probe has gone unanswered for `probeAnswerMs`.
   */
  connectionTimeoutMs: number
  probeAnswerMs: number
  maxQueuedBytes: number
  queueStallMs: number
}

/** What the sweep decided for one connection. */
export type LivenessVerdict = 'dead' | 'expired' | 'not-reading' | 'alive'

/**
 * Decides the fate of one connection at a sweep ([LV1], [AU4], [LM6]): silent for longer than the timeout with a
 * probe unanswered (it is terminated), credentials expired (closed with 4401), a send queue that stayed over its
 * bound (dropped), or alive (probed again). A pure function of the connection's timestamps, so it is exact under test.
 */
export function judgeConnection(conn: Connection, now: number, policy: LivenessPolicy): LivenessVerdict {
  if (conn.sendQueueStalled(now, policy.maxQueuedBytes, policy.queueStallMs)) return 'not-reading'
  // Silence alone is not enough: a sweep that comes back late (its timer starved on a saturated server) would find
  // long silences in clients it simply had not asked; 1,000-3,000 live readers were terminated that way at 1,600
  // rooms. Dead means silent and not answering a probe sent long enough ago.
  const probedAt = conn.unansweredProbeAt
  if (now - conn.lastSeen > policy.connectionTimeoutMs && probedAt > 0 && now - probedAt >= policy.probeAnswerMs) {
    return 'dead'
  }
  if (conn.credentialsExpired(now)) return 'expired'
  return 'alive'
}
