import { decodeMessage, encodePing, encodeSyncUpdate } from '@collab/protocol'
import { MemoryDocStore } from '@collab/storage'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Channel } from '../src/channel.js'
import { Connection } from '../src/connection.js'
import { createExceptionSink } from '../src/exception-sink.js'
import { defaultLimits } from '../src/limits.js'
import { Room } from '../src/room.js'

// The regression guard of issue 19: the hot path (apply one keystroke, relay it to 50 readers, store it), in process,
// timed against Yjs applying the same keystrokes in the same run. The ratio, not a time, is compared with the one
// recorded when the guard was written, so the guard holds on a faster or slower machine; a change that makes the hot
// path more than 30% slower relative to Yjs fails it. Speed itself is measured by the benchmark (bench/).

/** hot path time / Yjs apply time, measured on this code (2026-12-02, 2-core AMD EPYC, Node 20, 10,000 keystrokes, best of 9 runs: 4.0-4.5 over five runs; run alone, after the other test files (package.json)). */
const recordedRatio = Number(process.env.HOT_PATH_RATIO ?? 4.3)
const keystrokes = 10_000
const readers = 50
const runs = 11

/** A channel that accepts everything and counts it: the transport's cost is not what this guards. */
function nullChannel(): Channel & { sent: number } {
  return {
    sent: 0,
    isOpen: true,
    queuedBytes: 0,
    send(message) {
      this.sent += message.length
    },
    pauseReading() {},
    resumeReading() {},
    probe() {},
    close() {},
    terminate() {},
  }
}

/** The updates of a person typing `count` characters, one transaction each, as the editor sends them. */
function typing(count: number): Uint8Array[] {
  const doc = new Y.Doc()
  const text = doc.getText('codemirror')
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  for (let i = 0; i < count; i++) text.insert(text.length, i % 40 === 39 ? '\n' : ('abcdefghij'[i % 10] as string))
  doc.destroy()
  return updates
}

function timeYjs(updates: readonly Uint8Array[]): number {
  const doc = new Y.Doc()
  const started = performance.now()
  for (const update of updates) Y.applyUpdate(doc, update)
  const ms = performance.now() - started
  doc.destroy()
  return ms
}

async function timeHotPath(messages: readonly Uint8Array[]): Promise<number> {
  const logger = pino({ level: 'silent' })
  const store = new MemoryDocStore()
  const room = new Room(
    'guard',
    {
      store,
      logger,
      limits: defaultLimits,
      observer: {},
      sink: createExceptionSink(logger),
      relay: null,
      onIdle: () => undefined,
      onDeletedElsewhere: () => undefined,
    },
    undefined,
  )
  await room.loaded
  const connect = () => {
    const conn: Connection = new Connection({
      channel: nullChannel(),
      docName: 'guard',
      remoteAddress: '127.0.0.1',
      sink: { deliver: () => undefined, overBudgetTooLong: () => undefined },
    })
    room.add(conn)
    return conn
  }
  const writer = connect()
  for (let i = 0; i < readers; i++) connect()
  const ping = decodeMessage(encodePing())
  if (!ping.ok) throw new Error(ping.error)
  const decoded = messages.map((message) => {
    const result = decodeMessage(message)
    if (!result.ok) throw new Error(result.error)
    return result.message
  })
  const started = performance.now()
  for (const message of decoded) {
    room.receive(writer, message)
    // Another message applies the waiting update at once ([SU4]): one keystroke, one transaction, as when each
    // arrives in its own socket read.
    room.receive(writer, ping.message)
  }
  await room.written()
  const ms = performance.now() - started
  expect(room.doc.getText('codemirror').length).toBe(messages.length)
  await room.unload({ compact: false })
  return ms
}

describe('hot path regression guard (issue 19)', () => {
  it('applying, relaying to 50 readers and storing a keystroke stays within 1.3x of its recorded cost relative to Yjs', async () => {
    const updates = typing(keystrokes)
    const messages = updates.map((update) => encodeSyncUpdate(update))
    // Warm-up: the first runs compile the code paths.
    timeYjs(updates)
    await timeHotPath(messages)
    const yjs: number[] = []
    const ours: number[] = []
    for (let i = 0; i < runs; i++) {
      yjs.push(timeYjs(updates))
      ours.push(await timeHotPath(messages))
    }
    const ratio = Math.min(...ours) / Math.min(...yjs)
    console.log(
      `[guard] hot path ${Math.min(...ours).toFixed(1)} ms, Yjs apply ${Math.min(...yjs).toFixed(1)} ms for ${keystrokes} keystrokes: ratio ${ratio.toFixed(2)} (recorded ${recordedRatio}, limit ${(recordedRatio * 1.3).toFixed(2)})`,
    )
    expect(ratio).toBeLessThanOrEqual(recordedRatio * 1.3)
  })
})
