/** How long after the first stop signal further ones count as the same request. */
export const sameRequestMs = 2_000

/** What a SIGTERM or SIGINT asks for. */
export type SignalVerdict = 'shut down' | 'already shutting down' | 'exit now'

/**
 * What a stop signal means, given when the first one arrived (`null`: this is the first), in ms of one monotonic
 * clock. The first starts the graceful shutdown. Those within `windowMs` of it are the same request delivered again:
 * a signal to a process group (systemd's default `KillMode=control-group`, supervisord's `killasgroup`, `tini -g`,
 * Ctrl-C in a terminal) reaches npm, scripts/start.mjs and the server at once, and the first two forward theirs, so
 * one kill arrives as two or three signals. A later one is someone insisting, and ends the process without waiting.
 */
export function signalVerdict(firstAt: number | null, now: number, windowMs = sameRequestMs): SignalVerdict {
  if (firstAt === null) return 'shut down'
  return now - firstAt < windowMs ? 'already shutting down' : 'exit now'
}
