import { createRandom } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import {
  openLevelStore,
  roomText,
  type StockClient,
  startTestServer,
  stockClient,
  synced,
  Teardown,
  tempDir,
  waitFor,
} from './helpers.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

const alphabet = 'abcdefghijklmnopqrstuvwxyz \n😀é'

/** Moves a UTF-16 index off the low half of a surrogate pair, so no edit splits an emoji. */
function codePointBoundary(content: string, index: number): number {
  const before = content.charCodeAt(index - 1)
  return before >= 0xd800 && before <= 0xdbff ? index - 1 : index
}

function randomEdit(random: () => number, client: StockClient): void {
  const text = client.text
  const content = text.toString()
  if (content.length > 0 && random() < 0.35) {
    const start = codePointBoundary(content, Math.floor(random() * content.length))
    const end = codePointBoundary(content, Math.min(content.length, start + 1 + Math.floor(random() * 5)))
    if (end > start) text.delete(start, end - start)
    return
  }
  const chars = Array.from(alphabet)
  let insert = ''
  const size = 1 + Math.floor(random() * 6)
  for (let i = 0; i < size; i++) insert += chars[Math.floor(random() * chars.length)]
  text.insert(codePointBoundary(content, Math.floor(random() * (content.length + 1))), insert)
}

const seeds = [0x5eed_0001, 0xc0ffee, 20_240_611]

describe('seeded random convergence through the server', () => {
  for (const seed of seeds) {
    it(`[SY2] [SY3] four clients editing online and offline converge and persist (seed ${seed})`, async () => {
      const random = createRandom(seed)
      const docName = `random-${seed}`
      const dataDir = tempDir(teardown)
      const store = await openLevelStore(dataDir, teardown)
      const server = await startTestServer({ store }, teardown)
      const clients = Array.from({ length: 4 }, () => stockClient(server.url, docName, teardown))
      await Promise.all(clients.map((client) => synced(client)))
      const online = clients.map(() => true)
      let offlineEdits = 0

      for (let step = 0; step < 600; step++) {
        const which = Math.floor(random() * clients.length)
        const client = clients[which]!
        const roll = random()
        if (roll < 0.03 && online[which]) {
          client.provider.disconnect()
          online[which] = false
        } else if (roll < 0.08 && !online[which]) {
          client.provider.connect()
          online[which] = true
        } else {
          randomEdit(random, client)
          if (!online[which]) offlineEdits++
        }
        // Let the network deliver some messages between edits, so edits race with remote ones.
        if (random() < 0.1) await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 4)))
      }
      // The seed must exercise what the test claims: edits made offline and merged on reconnect.
      expect(offlineEdits, `seed ${seed}`).toBeGreaterThan(10)
      for (const client of clients) client.provider.connect()

      const texts = () => clients.map((client) => client.text.toString())
      const describeState = () =>
        `seed ${seed}: clients ${JSON.stringify(texts().map((t) => t.length))}, server ${roomText(server, docName)?.length}`
      await waitFor(
        () => `convergence (${describeState()})`,
        () => clients.every((client) => client.provider.synced && client.text.toString() === roomText(server, docName)),
        10_000,
      )
      const final = roomText(server, docName)
      expect(texts(), `seed ${seed}`).toEqual(clients.map(() => final))

      for (const client of clients) client.destroy()
      await server.close()
      await store.close()

      const reopenedStore = await openLevelStore(dataDir, teardown)
      const restarted = await startTestServer({ store: reopenedStore }, teardown)
      const reader = stockClient(restarted.url, docName, teardown)
      await synced(reader)
      expect(reader.text.toString(), `seed ${seed}: text after restart`).toBe(final)
    })
  }
})
