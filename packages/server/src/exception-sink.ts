import type { Logger } from 'pino'
import { observerHooks, type SyncObserver } from './observer.js'

/**
 * The one place where failures of code that must not take the server down end up: user-supplied hooks (observer,
 * authenticate, relay) and the handling of one connection's message. It logs and counts; the caller decides what
 * the failure costs (a connection closed with 4400, a refused connection, nothing).
 */
export interface ExceptionSink {
  /** Reports a failure in `where` (a hook name or a stage of message handling). Never throws. */
  report(where: string, err: unknown, context?: Record<string, unknown>): void
  /** Failures reported so far. */
  readonly failures: number
}

/** Creates the sink; `counted` is told of every failure (a metric), and its own failures are only logged. */
export function createExceptionSink(logger: Logger, counted?: (where: string) => void): ExceptionSink {
  let failures = 0
  return {
    get failures() {
      return failures
    },
    report(where, err, context) {
      failures++
      logger.error(
        { ...context, where, err: err instanceof Error ? err.message : String(err), stack: stackOf(err) },
        `failure in ${where}`,
      )
      if (!counted) return
      try {
        counted(where)
      } catch (countErr) {
        logger.error({ err: String(countErr) }, 'the failure counter itself failed')
      }
    },
  }
}

function stackOf(err: unknown): string | undefined {
  return err instanceof Error ? err.stack?.split('\n').slice(0, 6).join('\n') : undefined
}

/** Runs `fn`; a throw is reported to `sink` and `fallback` returned instead. */
export function guarded<T>(sink: ExceptionSink, where: string, fn: () => T, fallback: T): T {
  try {
    return fn()
  } catch (err) {
    sink.report(where, err)
    return fallback
  }
}

/**
 * The observer with every hook run inside the sink: a metrics hook that throws is logged and counted, and the
 * message, connection or room it was told about carries on as if it had not been observed.
 */
export function guardObserver(observer: SyncObserver, sink: ExceptionSink): SyncObserver {
  const safe: Record<string, (...args: unknown[]) => void> = {}
  for (const name of observerHooks) {
    const hook: unknown = observer[name]
    if (typeof hook !== 'function') continue
    safe[name] = (...args: unknown[]) => guarded(sink, `observer.${name}`, () => hook.apply(observer, args), undefined)
  }
  return safe as SyncObserver
}
