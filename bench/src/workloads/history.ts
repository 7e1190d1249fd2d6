import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { SyncClient } from '../client.js'
import type { BenchContext } from '../context.js'
import { freePort, startSystem } from '../server-process.js'
import { median, until } from '../stats.js'
import type { SystemSpec } from '../systems.js'

/** Version history of the trace's document, read back by a freshly started server over the HTTP API. */
export interface HistoryResult {
  /** Versions the document has: one named version per {@link updatesPerVersion} updates of the trace. */
  versions: number
  /** The first listing after the server started (its code not yet optimized), and the median of the next ones. */
  listFirstMs: number
  listMs: number
  /** The first rebuild after the start (the latest version, the most work), then over versions spread over the history. */
  rebuildFirstMs: number
  rebuildMs: number
  rebuildMaxMs: number
}

/** Updates of the trace between two versions (issue 17: "one every 1,000 updates"). */
export const updatesPerVersion = 1_000
/** Listings and rebuilds measured after the first. */
const repeats = 20

/**
 * Version history, ours only (no peer keeps versions): one client sends the trace in steps of
 * {@link updatesPerVersion} updates, and once each step is acknowledged the document gets a named version
 * (`POST /api/docs/paper/versions`). Then a fresh server on that directory answers `GET .../versions` (the listing)
 * and `GET .../versions/<id>` as text (a rebuild from the stored deltas), timed from the load generator.
 */
export async function runHistory(ctx: BenchContext, spec: SystemSpec): Promise<HistoryResult> {
  const { updates } = ctx.trace
  const dataDir = mkdtempSync(join(ctx.workDir, `${spec.id}-history-`))
  const writer = await startSystem(spec, await freePort(), dataDir)
  let versions = 0
  try {
    const client = new SyncClient(writer.url, 'paper', spec.client)
    await client.opened
    await client.whenSynced()
    await client.handled()
    const before = client.acks
    for (let start = 0; start < updates.length; start += updatesPerVersion) {
      const end = Math.min(start + updatesPerVersion, updates.length)
      for (let i = start; i < end; i++) client.sendUpdate(updates[i] as Uint8Array)
      await until(
        () => {
          client.assertOpen()
          return client.acks >= before + end
        },
        120_000,
        'save acknowledgements',
        1,
      )
      const made = await fetch(apiOf(writer.url, '/api/docs/paper/versions'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `after ${end} updates` }),
      })
      if (made.status !== 201) throw new Error(`making a version answered ${made.status}: ${await made.text()}`)
      versions++
      if (ctx.signal?.aborted) throw new Error('aborted')
    }
    await client.close()
    await writer.stop(120_000)
  } finally {
    await writer.stop()
  }

  const reader = await startSystem(spec, await freePort(), dataDir)
  try {
    const list = async () => {
      const started = performance.now()
      const answer = await fetch(apiOf(reader.url, '/api/docs/paper/versions'))
      const listed = (await answer.json()) as Array<{ id: string }>
      const ms = performance.now() - started
      if (answer.status !== 200 || listed.length !== versions) {
        throw new Error(`the listing answered ${answer.status} with ${listed.length} of ${versions} versions`)
      }
      return { ms, ids: listed.map((version) => version.id) }
    }
    const rebuild = async (id: string) => {
      const started = performance.now()
      const answer = await fetch(apiOf(reader.url, `/api/docs/paper/versions/${id}`), {
        headers: { accept: 'text/plain' },
      })
      await answer.text()
      if (answer.status !== 200) throw new Error(`version ${id} answered ${answer.status}`)
      return performance.now() - started
    }
    const first = await list()
    const latest = first.ids[0] as string
    const rebuildFirstMs = await rebuild(latest)
    const listings: number[] = []
    for (let i = 0; i < repeats; i++) listings.push((await list()).ms)
    // Newest first: the latest, then versions spread evenly back to the first.
    const spread = Array.from(
      { length: repeats },
      (_, i) => first.ids[Math.round((i * (versions - 1)) / (repeats - 1))],
    )
    const rebuilds: number[] = []
    for (const id of spread) rebuilds.push(await rebuild(id as string))
    return {
      versions,
      listFirstMs: first.ms,
      listMs: median(listings),
      rebuildFirstMs,
      rebuildMs: median(rebuilds),
      rebuildMaxMs: Math.max(...rebuilds),
    }
  } finally {
    await reader.stop()
  }
}

/** The HTTP URL of an API path on a server whose WebSocket URL is `wsUrl`. */
function apiOf(wsUrl: string, path: string): string {
  return wsUrl.replace(/^ws/, 'http') + path
}
