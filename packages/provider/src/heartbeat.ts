/** Timings of the client's liveness check ([HB1]). */
export interface HeartbeatPolicy {
  /** Send a ping when nothing was heard for this long. Default 2,000 ms. */
  idleMs: number
  /** Declare the connection dead when nothing was heard for this long... Default 6,000 ms. */
  deadAfterMs: number
  /** ...and the last ping went unanswered for at least this long. Default 3,000 ms. */
  pongGraceMs: number
  /** How often the check runs. Default 500 ms, so the verdict comes at most half a second after it is due. */
  checkEveryMs: number
}

export const defaultHeartbeat: HeartbeatPolicy = {
  idleMs: 2_000,
  deadAfterMs: 6_000,
  pongGraceMs: 3_000,
  checkEveryMs: 500,
}

/** What the heartbeat check decided. */
export type HeartbeatVerdict = 'ok' | 'ping' | 'dead'

/**
 * Decides from timestamps alone, never from a count of timer ticks: a background tab whose timers were throttled
 * for a minute has not heard anything in that minute, but it also has not asked. So a connection is only dead
 * when a ping was sent and has gone unanswered for `pongGraceMs`, on top of `deadAfterMs` of silence.
 */
export function heartbeatVerdict(
  now: number,
  lastHeardAt: number,
  lastPingAt: number,
  policy: HeartbeatPolicy,
): HeartbeatVerdict {
  const silentFor = now - lastHeardAt
  const pingPending = lastPingAt > lastHeardAt
  if (pingPending && silentFor >= policy.deadAfterMs && now - lastPingAt >= policy.pongGraceMs) return 'dead'
  // One ping at a time: re-sending would push lastPingAt forward and postpone the verdict forever.
  if (silentFor >= policy.idleMs && !pingPending) return 'ping'
  return 'ok'
}
