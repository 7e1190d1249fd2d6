import { parentPort, workerData } from 'node:worker_threads'
import { Teardown } from '@collab/test-support'
import { Bystander, type BystanderAnswer, type BystanderCall, type BystanderSetup } from './bystander.js'
import { createFaultClient } from './clients.js'

// The worker side of bystanders.ts: one bystander pair, in a thread of its own so that what the test thread does
// (building an attack, applying what another document relays) never shows up in its latency.

const port = parentPort
if (!port) throw new Error('bystander-worker.ts runs in a worker thread (see worker.ts)')
const setup = workerData as BystanderSetup
// The worker's clients go with the thread: bystanders.ts terminates it.
const teardown = new Teardown()
// Quick reconnects: a test that restarts the server measures the server, not the provider's backoff.
const backoff = { baseMs: 50, maxMs: 300 }
const bystander = new Bystander(
  setup.doc,
  createFaultClient(setup.serverUrl, setup.doc, teardown, { name: `${setup.doc}/writer`, backoff }),
  createFaultClient(setup.serverUrl, setup.doc, teardown, { name: `${setup.doc}/reader`, backoff }),
)

async function answer(call: BystanderCall): Promise<unknown> {
  switch (call.kind) {
    case 'status':
      return { synced: bystander.synced }
    case 'start':
      bystander.start(call.everyMs, call.delayMs)
      return null
    case 'end':
      return bystander.end(call.settleMs)
    case 'acknowledged':
      return bystander.acknowledged()
    case 'awarenessHolders':
      return [bystander.writer, bystander.reader]
        .filter((client) => client.provider.awareness.getStates().has(call.clientID))
        .map((client) => client.name)
    case 'readerLength':
      return bystander.reader.text.length
  }
}

port.on('message', (call: BystanderCall) => {
  answer(call).then(
    (reply) => port.postMessage({ id: call.id, reply } satisfies BystanderAnswer),
    (err: unknown) =>
      port.postMessage({
        id: call.id,
        error: err instanceof Error ? err.message : String(err),
      } satisfies BystanderAnswer),
  )
})
