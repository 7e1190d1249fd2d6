import { type EditingTrace, loadTrace, replayTrace } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
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

/**
 * Replays `trace` through one stock client (one Y transaction per trace transaction), waits for the server to
 * hold the end content, then restarts server and store on the same directory and reads the document back.
 */
async function replayAndRestart(trace: EditingTrace, docName: string): Promise<void> {
  const dataDir = tempDir(teardown)
  const store = await openLevelStore(dataDir, teardown)
  // Replaying 18k transactions in one tick is an import, not typing: lift the rate limits it would trip ([LM2]).
  const server = await startTestServer({ store, limits: { messageBurst: 1e6, byteBurst: 1e9 } }, teardown)
  const writer = stockClient(server.url, docName, teardown)
  // Synced first, so every transaction travels as its own update message rather than in one sync step 2.
  await synced(writer)

  replayTrace(trace, writer.text)
  expect(writer.text.toString()).toBe(trace.endContent)
  await waitFor('the server to hold the end content', () => roomText(server, docName) === trace.endContent, 20_000)

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
    await replayAndRestart(loadTrace('sveltecomponent'), 'svelte')
  })

  it('[SY3] a trace with characters outside the BMP, positions in code points', async () => {
    await replayAndRestart(
      {
        startContent: '',
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
