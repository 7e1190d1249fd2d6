import { failureText, isFailed, type Runs, successes } from './results.js'
import { median } from './stats.js'
import { comparedSystems, type SystemId } from './systems.js'

/** One line of the results table: a figure of every system, its floor and target. */
export interface MetricRow {
  workload: string
  label: string
  unit: 'updates/s' | 'ms' | 'bytes' | 'rooms' | '%' | 'messages/s' | 'frames/s' | 'ratio' | 'count'
  /** Which direction is better; `info` rows are shown but not judged or charted. */
  better: 'higher' | 'lower' | 'info'
  /** Median over the repetitions, per system; undefined when every repetition failed. */
  values: Partial<Record<SystemId, number>>
  /** How many repetitions the median is over, per system. */
  counts: Partial<Record<SystemId, number>>
  /**
   * Per system, why its cell shows no figure: a repetition failed (a server died, a connection closed, an error),
   * so the figures of the others are not reported as its behaviour either.
   */
  failures?: Partial<Record<SystemId, string>>
  /** Per system, a word shown after its figure (the cluster's missing deliveries: "unexplained"). */
  notes?: Partial<Record<SystemId, string>>
  /** No ours / peer verdict on this row (a figure nothing recorded a cause for is no claim about the peer). */
  noVerdict?: boolean
  floor?: { value: number; what: string }
  target?: { value: number; text: string }
}

/** Reads one figure out of a workload's result. */
type Figure<T> = (run: T) => number

/**
 * A row from every system's repetitions of one workload: the median (or the sum) of `pick` over the successful
 * ones. Repetitions whose figure is not a number (a latency with no sample at all) are left out of the median.
 */
export function row<T>(
  base: Omit<MetricRow, 'values' | 'counts'>,
  runs: Runs<T>,
  pick: Figure<T>,
  combine: 'median' | 'sum' = 'median',
): MetricRow {
  const values: MetricRow['values'] = {}
  const counts: MetricRow['counts'] = {}
  const failures: NonNullable<MetricRow['failures']> = {}
  for (const system of comparedSystems) {
    const all = runs[system] ?? []
    const failed = all.filter(isFailed)
    if (failed.length > 0) {
      // A failed repetition is not the system's behaviour, and the others alone would hide it: no figure at all.
      const causes = [...new Set(failed.map(failureText))].join('; ')
      failures[system] = `failed: ${causes}${all.length > 1 ? ` (${failed.length} of ${all.length} runs)` : ''}`
      counts[system] = 0
      continue
    }
    const figures = successes(runs, system)
      .map(pick)
      .filter((figure) => typeof figure === 'number' && !Number.isNaN(figure))
    counts[system] = figures.length
    if (figures.length > 0)
      values[system] = combine === 'sum' ? figures.reduce((sum, figure) => sum + figure, 0) : median(figures)
  }
  return { ...base, values, counts, ...(Object.keys(failures).length > 0 ? { failures } : {}) }
}

/** The median of `pick` over the raw ws relay's repetitions, if it ran this workload. */
export function floorOf<T>(runs: Runs<T>, pick: Figure<T>): number | undefined {
  const ok = successes(runs, 'ws-relay')
  return ok.length > 0 ? median(ok.map(pick)) : undefined
}
