import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PostgresDocStore } from '@collab/storage'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { report, startServices, Teardown } from './harness.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

const writerScript = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'append-writer.mjs')

function runWriter(databaseUrl: string, table: string, name: string, updates: number): Promise<void> {
  const child = spawn(process.execPath, [writerScript, databaseUrl, table, name, String(updates)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  teardown.defer(() => child.kill('SIGKILL'))
  let output = ''
  child.stdout.on('data', (data) => {
    output += data
  })
  child.stderr.on('data', (data) => {
    output += data
  })
  return new Promise((resolve, reject) => {
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`writer ${name} exited ${code}:\n${output}`)),
    )
  })
}

describe('several processes writing one document to PostgreSQL', () => {
  it('loses nothing while three processes append and compact concurrently', async () => {
    const services = await startServices(teardown)
    const names = ['p-', 'q-', 'r-']
    const updates = 600
    const started = Date.now()
    await Promise.all(names.map((name) => runWriter(services.databaseUrl, 'concurrent', name, updates)))
    report(`${names.length} processes x ${updates} appends with compactions`, Date.now() - started)

    const store = await PostgresDocStore.open({ connectionString: services.databaseUrl, table: 'concurrent' })
    teardown.defer(() => store.close())
    const doc = new Y.Doc()
    teardown.defer(() => doc.destroy())
    const records = await store.load('shared')
    for (const update of records) Y.applyUpdate(doc, update)
    const text = doc.getText('codemirror').toString()
    const missing = names.flatMap((name) =>
      Array.from({ length: updates }, (_, i) => `${name}${i};`).filter((token) => !text.includes(token)),
    )
    expect(missing).toEqual([])
    // Compactions happened (far fewer rows than appends), and merging the rest changes nothing.
    expect(records.length).toBeLessThan(names.length * updates)
    await store.compact('shared')
    const compacted = await store.load('shared')
    expect(compacted).toHaveLength(1)
    const check = new Y.Doc()
    Y.applyUpdate(check, compacted[0]!)
    expect(check.getText('codemirror').toString()).toBe(text)
    check.destroy()
  })
})
