import { describe, expect, it } from 'vitest'
import { runSimulation } from './simulation.js'

/** OT_SEEDS=1000 for a long run; CI runs 200. */
const seeds = Number(process.env.OT_SEEDS ?? 200)

describe('[OT3] [OT4] [OT6] [OT7] convergence of OT clients, Yjs clients, the Y.Text and the log', () => {
  it(`converges for ${seeds} seeds with per-entry rebasing and one entry per receiveUpdates call, every update applied once`, () => {
    const totals = { entries: 0, lostConfirmations: 0, droppedUpdates: 0, resets: 0, restarts: 0, stalePushes: 0 }
    for (let seed = 1; seed <= seeds; seed++) {
      // Throws when an update is applied twice, or is lost ([OT4], [OT7]).
      const result = runSimulation({ seed })
      if (!result.converged) {
        throw new Error(
          `seed ${seed} diverged:\n${result.docs.map((d) => `${d.who}: ${JSON.stringify(d.text)}`).join('\n')}`,
        )
      }
      for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] += result[key]
    }
    // The runs must have done real work, or convergence proves nothing: many entries, and every path of the gap
    // ([OT7]) taken: confirmations lost before a welcome with the whole text (after a restart in a new epoch, below
    // the floor, or mid-connection), and pushes sent before such a welcome.
    expect(totals.entries).toBeGreaterThan(seeds * 20)
    if (seeds >= 100) {
      expect(totals.lostConfirmations).toBeGreaterThan(0)
      expect(totals.resets).toBeGreaterThan(0)
      expect(totals.restarts).toBeGreaterThan(0)
      expect(totals.stalePushes).toBeGreaterThan(0)
    }
    console.info(
      `${seeds} seeds, ${totals.entries} entries, ${totals.restarts} restarts (new epochs), ${totals.resets} ` +
        `welcomes with the whole text mid-connection, ${totals.lostConfirmations} welcomes with the whole text ` +
        `after lost confirmations (${totals.droppedUpdates} updates dropped as applied), ${totals.stalePushes} ` +
        'stale pushes ignored; no update applied twice',
    )
  })
})
