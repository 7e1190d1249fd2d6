import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import type * as Y from 'yjs'
import {
  openLevelStore,
  roomText,
  startTestServer,
  stockClient,
  synced,
  Teardown,
  tempDir,
  waitFor,
} from './helpers.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

const tracePath = '/work/shared/traces/sveltecomponent.json.gz'

/** A sequential editing trace (see /work/shared/traces/README.md); positions count Unicode code points. */
interface Trace {
  endContent: string
  txns: Array<{ patches: Array<[number, number, string]> }>
}

function loadTrace(path: string): Trace {
  const parsed: unknown = JSON.parse(gunzipSync(readFileSync(path)).toString('utf8'))
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    !('endContent' in parsed) ||
    typeof parsed.endContent !== 'string' ||
    !('txns' in parsed) ||
    !Array.isArray(parsed.txns)
  ) {
    throw new Error(`${path} is not a sequential editing trace`)
  }
  return parsed as Trace
}

/**
 * Applies one trace patch to a Y.Text. Trace positions count code points and Y.Text indexes count UTF-16 units,
 * so when the document holds characters outside the BMP the positions are converted against the current text.
 */
function applyPatch(text: Y.Text, patch: [number, number, string], hasAstral: boolean): void {
  const [position, deleteCount, insert] = patch
  let index = position
  let deleteUnits = deleteCount
  if (hasAstral) {
    const content = text.toString()
    index = utf16Index(content, 0, position)
    deleteUnits = utf16Index(content, index, deleteCount) - index
  }
  if (deleteUnits > 0) text.delete(index, deleteUnits)
  if (insert.length > 0) text.insert(index, insert)
}

/** The UTF-16 index `codePoints` code points after UTF-16 index `from` in `content`. */
function utf16Index(content: string, from: number, codePoints: number): number {
  let index = from
  for (let i = 0; i < codePoints; i++) {
    const code = content.codePointAt(index)
    if (code === undefined) throw new RangeError(`code point ${i} of ${codePoints} is past the end of the text`)
    index += code > 0xffff ? 2 : 1
  }
  return index
}

const astral = /[\u{10000}-\u{10ffff}]/u

/**
 * Replays `trace` through one stock client (one Y transaction per trace transaction), waits for the server to
 * hold the end content, then restarts server and store on the same directory and reads the document back.
 */
async function replayAndRestart(trace: Trace, docName: string): Promise<void> {
  const hasAstral =
    astral.test(trace.endContent) || trace.txns.some((txn) => txn.patches.some(([, , insert]) => astral.test(insert)))
  const dataDir = tempDir(teardown)
  const store = await openLevelStore(dataDir, teardown)
  const server = await startTestServer({ store }, teardown)
  const writer = stockClient(server.url, docName, teardown)
  // Synced first, so every transaction travels as its own update message rather than in one sync step 2.
  await synced(writer)

  for (const txn of trace.txns) {
    writer.doc.transact(() => {
      for (const patch of txn.patches) applyPatch(writer.text, patch, hasAstral)
    })
  }
  expect(writer.text.toString()).toBe(trace.endContent)
  await waitFor(() => roomText(server, docName) === trace.endContent, 20_000, 'the server to hold the end content')

  writer.destroy()
  await server.close()
  await store.close()

  const reopened = await openLevelStore(dataDir, teardown)
  // Unloading the room compacted the document into a single snapshot.
  expect(await reopened.load(docName)).toHaveLength(1)
  const restarted = await startTestServer({ store: reopened }, teardown)
  const reader = stockClient(restarted.url, docName, teardown)
  await synced(reader)
  expect(reader.text.toString()).toBe(trace.endContent)
  expect(roomText(restarted, docName)).toBe(trace.endContent)
}

describe('replaying editing traces through the server', () => {
  it('[SY3] sveltecomponent: every transaction reaches the server and the LevelDB copy', async () => {
    await replayAndRestart(loadTrace(tracePath), 'svelte')
  })

  it('[SY3] a trace with characters outside the BMP, positions in code points', async () => {
    await replayAndRestart(
      {
        endContent: 'aéb!👍',
        txns: [
          { patches: [[0, 0, 'a😀b']] },
          { patches: [[2, 0, '🎉']] },
          { patches: [[1, 2, 'x']] },
          {
            patches: [
              [3, 0, '!'],
              [1, 1, 'é'],
            ],
          },
          { patches: [[4, 0, '👍🏽']] },
          { patches: [[5, 1, '']] },
        ],
      },
      'astral',
    )
  })
})
