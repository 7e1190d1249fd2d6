import { encodeSyncStep1 } from '@collab/protocol'
import { MemoryDocStore } from '@collab/storage'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { SyncObserver } from '../src/index.js'
import { RawClient, startTestServer, stockClient, synced, Teardown, waitFor } from './helpers.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

/** Counts the sync step 2 answers the server sends. */
function countingAnswers(): { observer: SyncObserver; answers: () => number; closes: number[] } {
  let answers = 0
  const closes: number[] = []
  return {
    observer: {
      messagesSent: (kind, _bytes, count) => {
        if (kind === 'sync-step-2') answers += count
      },
      connectionClosed: (code) => closes.push(code),
    },
    answers: () => answers,
    closes,
  }
}

/** A document of about `bytes` bytes of text, written by a stock client. */
async function largeDocument(url: string, name: string, bytes: number): Promise<void> {
  const writer = stockClient(url, name, teardown)
  await synced(writer)
  // Random text does not compress away in the Yjs encoding.
  let text = ''
  while (text.length < bytes) text += Math.random().toString(36).slice(2)
  writer.text.insert(0, text)
  await waitFor('the upload', () => writer.provider.synced && writer.provider.ws?.bufferedAmount === 0)
}

describe('[LM6] a connection that does not read', () => {
  it('[LM6] is not answered beyond its send queue bound; once it reads, every request is answered', async () => {
    const counting = countingAnswers()
    const server = await startTestServer(
      { store: new MemoryDocStore(), observer: counting.observer, limits: { maxQueuedBytes: 1 << 20 } },
      teardown,
    )
    await largeDocument(server.url, 'big', 512 * 1024)
    const reader = await RawClient.connect(`${server.url}/big`, teardown)
    await waitFor('the greeting', () => reader.messagesOf('sync-step-1').length === 1)
    reader.ws.pause()
    const before = counting.answers()
    const request = encodeSyncStep1(Y.encodeStateVector(new Y.Doc()))
    for (let i = 0; i < 200; i++) reader.send(request)
    await new Promise((resolve) => setTimeout(resolve, 500))
    // About 1 MiB queued is two or three answers of 512 kB (plus what the kernel's socket buffers took), not 200.
    expect(counting.answers() - before).toBeLessThan(20)
    reader.ws.resume()
    await waitFor('every answer once it reads', () => reader.messagesOf('sync-step-2').length === 200, 10_000)
    expect(reader.isOpen).toBe(true)
  })

  it('[LM6] is dropped when its send queue stays over the bound for queueStallMs', async () => {
    const counting = countingAnswers()
    const server = await startTestServer(
      {
        store: new MemoryDocStore(),
        observer: counting.observer,
        limits: { maxQueuedBytes: 256 * 1024, queueStallMs: 1_000 },
        pingIntervalMs: 200,
      },
      teardown,
    )
    await largeDocument(server.url, 'stalled', 512 * 1024)
    const reader = await RawClient.connect(`${server.url}/stalled`, teardown)
    await waitFor('the greeting', () => reader.messagesOf('sync-step-1').length === 1)
    reader.ws.pause()
    const request = encodeSyncStep1(Y.encodeStateVector(new Y.Doc()))
    for (let i = 0; i < 50; i++) reader.send(request)
    await waitFor('the server to drop the connection', () => server.sync.connectionCount === 1)
    // Dropped without a closing handshake: it could not read one.
    await waitFor('the close', () => counting.closes.length > 0)
    expect(counting.closes).toEqual([1006])
  })
})
