import * as Y from 'yjs'
import { median } from './stats.js'

/** Lower bounds measured in this process: what any server must at least spend on the same Yjs work. */
export interface InProcessFloors {
  /** Applying the trace's updates one by one to a Y.Doc, as a server applies what clients send. */
  yjsApplyPerSecond: number
  /** Parsing the final state into a fresh Y.Doc: what every client of a cold load pays at least once. */
  parseStateMs: number
  /** Size of the final state encoded as one update (what a fully compacted store must hold). */
  stateBytes: number
}

/** Measures the in-process floors on the trace's updates and final state. */
export function measureInProcessFloors(updates: readonly Uint8Array[], finalState: Uint8Array): InProcessFloors {
  const applyRuns: number[] = []
  for (let run = 0; run < 2; run++) {
    const doc = new Y.Doc()
    const started = performance.now()
    for (const update of updates) Y.applyUpdate(doc, update)
    applyRuns.push((updates.length / (performance.now() - started)) * 1000)
    doc.destroy()
  }
  const parses: number[] = []
  for (let run = 0; run < 5; run++) {
    const doc = new Y.Doc()
    const started = performance.now()
    Y.applyUpdate(doc, finalState)
    parses.push(performance.now() - started)
    doc.destroy()
  }
  return { yjsApplyPerSecond: Math.max(...applyRuns), parseStateMs: median(parses), stateBytes: finalState.length }
}
