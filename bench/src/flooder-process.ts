// One connection that floods a document with the trace's updates as fast as its socket takes them, in a process of
// its own (pinned to the load generator's core) so that its sends do not delay the timers and reads of the honest
// clients it is measured against. Driven over IPC by workloads/flood.ts.
import { type ClientFlavour, encodeUpdateMessage, SyncClient } from './client.js'
import { sleep } from './stats.js'
import { traceUpdates } from './trace-updates.js'

/** What the load generator asks. */
export type FlooderRequest =
  /** Encodes the flood (unless already done for this protocol and document), then connects and syncs. */
  | { type: 'connect'; url: string; flavour: ClientFlavour; docName: string; trace: string }
  | { type: 'flood' }
  /** Stops sending, reports `stopped`, then `applied` once the server has handled everything sent. */
  | { type: 'stop' }
  | { type: 'disconnect' }

/** What this process sends. */
export type FlooderEvent =
  | { type: 'connected'; messages: number }
  | { type: 'stopped'; sent: number }
  /** From the flood's first message until the server had handled its last; `closed` if it closed the connection. */
  | { type: 'applied'; ms: number; closed: string | null }
  | { type: 'disconnected' }
  | { type: 'error'; message: string }

/**
 * Beyond this many bytes waiting in the socket the flooder waits: "as fast as the socket takes them" is as fast as
 * the server reads, without an ever-growing queue in this process.
 */
const maxBufferedBytes = 1024 * 1024
/** Messages written between two looks at the socket. */
const chunk = 200

const send = (event: FlooderEvent) => process.send?.(event)

/** The trace's updates, one per transaction (the same trace for every connection). */
let traceUpdateList: Uint8Array[] | null = null
/** The flood's messages by protocol and document, encoded once: flooding then costs only the writes. */
const encoded = new Map<string, Uint8Array[]>()
let client: SyncClient | null = null
let messages: Uint8Array[] = []
let flooding = false
let floodDone: Promise<void> = Promise.resolve()

async function connect(request: Extract<FlooderRequest, { type: 'connect' }>): Promise<void> {
  const { protocol } = request.flavour
  const key = protocol === 'hocuspocus' ? `${protocol}:${request.docName}` : protocol
  let prepared = encoded.get(key)
  if (!prepared) {
    traceUpdateList ??= traceUpdates(request.trace).updates
    prepared = traceUpdateList.map((update) => encodeUpdateMessage(update, protocol, request.docName))
    encoded.set(key, prepared)
  }
  messages = prepared
  const opened = new SyncClient(request.url, request.docName, request.flavour)
  client = opened
  await opened.opened
  await opened.whenSynced()
  // Let the handshake finish, so that what `applied` waits for is the flood alone.
  await opened.handled()
  send({ type: 'connected', messages: messages.length })
}

/** Writes the prepared messages while `flooding`, as fast as the socket takes them. */
async function flood(target: SyncClient): Promise<void> {
  const started = performance.now()
  let sent = 0
  while (flooding && sent < messages.length && target.closeCode === null) {
    if (target.ws.bufferedAmount > maxBufferedBytes) {
      await sleep(1)
      continue
    }
    for (let i = 0; i < chunk && sent < messages.length; i++) target.sendEncodedUpdate(messages[sent++]!)
    // Lets the socket write and the server's answers in before the next chunk.
    await new Promise((resolve) => setImmediate(resolve))
  }
  while (flooding) await sleep(5)
  send({ type: 'stopped', sent })
  const closed = () => (target.closeCode === null ? null : `${target.closeCode} ${target.closeReason}`)
  if (closed() === null) await target.handled(undefined, 300_000).catch(() => undefined)
  send({ type: 'applied', ms: performance.now() - started, closed: closed() })
}

async function answer(request: FlooderRequest): Promise<void> {
  switch (request.type) {
    case 'connect':
      await connect(request)
      return
    case 'flood':
      if (!client) throw new RangeError('flood before connect')
      flooding = true
      floodDone = flood(client)
      await floodDone
      return
    case 'stop':
      flooding = false
      return
    case 'disconnect':
      await floodDone
      await client?.close()
      client = null
      send({ type: 'disconnected' })
      return
  }
}

process.on('message', (request: FlooderRequest) => {
  answer(request).catch((err: unknown) =>
    send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  )
})
// The load generator ends this process when it is done with it (or when it exits).
process.on('disconnect', () => process.exit(0))
