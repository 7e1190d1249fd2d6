import { Capability, decodeMessage, encodeHello, encodeSyncUpdate, type Message } from '@collab/protocol'
import { startServerProcess, waitFor } from '@collab/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import * as Y from 'yjs'
import { report } from './support/report.js'
import { countMissing, readStoredDoc } from './support/stored.js'
import { Teardown, tempDir } from './support/teardown.js'
import { sleep } from './support/timing.js'

// An update can reach the server before the update it builds on: after a crash or a storage failure lost
// something the server had relayed, a client that received it types on top of it, and its keystroke goes out
// before its sync step 2 (which carries the lost update) is answered. Yjs keeps such an update pending, in memory
// only. Acknowledging it then would say "saved" about something that is on no disk ([SA1]).

const teardown = new Teardown()
afterEach(() => teardown.run())

describe('an update that arrives before what it builds on', () => {
  it('[SA1] is acknowledged only once it is stored: after kill -9, an acknowledged update is on disk', async () => {
    const dataDir = tempDir(teardown)
    const server = await startServerProcess({ dataDir, args: ['--log-level', 'warn'] })
    teardown.defer(() => server.stop('SIGKILL'))

    // `lost` is what the server relayed and then lost; `early` is typed right after it, so it depends on it.
    const client = new Y.Doc()
    const lostAuthor = new Y.Doc()
    lostAuthor.getText('codemirror').insert(0, 'relayed, then lost by the server. ')
    Y.applyUpdate(client, Y.encodeStateAsUpdate(lostAuthor))
    const before = Y.encodeStateVector(client)
    const text = client.getText('codemirror')
    text.insert(text.length, 'typed on top of it.')
    const early = Y.encodeStateAsUpdate(client, before)

    const ws = new WebSocket(`${server.wsUrl}/early`)
    teardown.defer(() => ws.terminate())
    const received: Message[] = []
    ws.on('message', (data: Buffer) => {
      const decoded = decodeMessage(new Uint8Array(data))
      if (decoded.ok) received.push(decoded.message)
    })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve)
      ws.once('error', reject)
    })
    ws.send(encodeHello([Capability.Heartbeat, Capability.SaveAck]))
    await waitFor('the document loaded (sync step 1)', () => received.some((m) => m.type === 'sync-step-1'))
    ws.send(encodeSyncUpdate(early))
    // A correct server either stores the update (and then acknowledges it) or does not acknowledge it yet.
    const savedMessage = () => received.some((m) => m.type === 'saved' && m.count >= 1)
    const deadline = Date.now() + 1_000
    while (!savedMessage() && Date.now() < deadline) await sleep(10)
    const acknowledged = savedMessage()

    await server.stop('SIGKILL')
    const stored = await readStoredDoc(dataDir, 'early')
    const missing = countMissing(stored, [early])
    stored.destroy()
    report('early update', { acknowledged, storedAfterKill: missing === 0 })
    if (acknowledged) expect(missing, 'the server acknowledged an update it had not stored').toBe(0)
  })
})
