import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import type * as Y from 'yjs'

/** One recorded editing session (josephg/editing-traces format). */
export interface EditingTrace {
  startContent: string
  endContent: string
  /** Each transaction's patches are `[position in code points, deleted count, inserted text]`, descending positions. */
  txns: Array<{ time?: string; patches: Array<[number, number, string]> }>
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..')

/**
 * Where traces are looked for, in order: TRACES_DIR; the shared folder beside the repository (all traces); the
 * copies bundled with this package (sveltecomponent, and automerge-paper, which the fast-client test and the
 * cold-load test replay), so the tests run from any clone.
 */
export function traceDirs(): string[] {
  const dirs = [join(packageRoot, '../../../shared/traces'), join(packageRoot, 'traces')]
  return process.env.TRACES_DIR ? [process.env.TRACES_DIR, ...dirs] : dirs
}

/** Loads `<name>.json.gz` from the first of {@link traceDirs} that has it. */
export function loadTrace(name: string): EditingTrace {
  const file = `${name}.json.gz`
  const dir = traceDirs().find((candidate) => existsSync(join(candidate, file)))
  if (!dir) throw new Error(`trace ${file} not found in ${traceDirs().join(', ')} (set TRACES_DIR)`)
  return JSON.parse(gunzipSync(readFileSync(join(dir, file))).toString('utf8')) as EditingTrace
}

/**
 * Converts a code-point position to a UTF-16 index in `text` (Y.Text and JavaScript strings count UTF-16 units;
 * the traces count code points).
 */
export function utf16Index(text: string, codePoints: number): number {
  let index = 0
  for (let i = 0; i < codePoints; i++) {
    const code = text.codePointAt(index)
    if (code === undefined)
      throw new RangeError(`code point ${codePoints} is past the end of a ${text.length}-unit text`)
    index += code > 0xffff ? 2 : 1
  }
  return index
}

const astral = /[\u{10000}-\u{10ffff}]/u

/**
 * Replays `trace` into `text`, one Yjs transaction per trace transaction, calling `afterTxn` after each.
 * Positions only need translating when the text has characters outside the BMP; only then is the current content
 * tracked (tracking it always would make long traces quadratic).
 */
export function replayTrace(trace: EditingTrace, text: Y.Text, afterTxn?: (index: number) => void): void {
  const doc = text.doc
  if (!doc) throw new RangeError('replayTrace needs a Y.Text that belongs to a Y.Doc')
  const translate =
    astral.test(trace.startContent) || trace.txns.some((txn) => txn.patches.some(([, , ins]) => astral.test(ins)))
  let content = trace.startContent
  trace.txns.forEach((txn, index) => {
    doc.transact(() => {
      for (const [pos, del, ins] of txn.patches) {
        const at = translate ? utf16Index(content, pos) : pos
        const end = translate ? at + utf16Index(content.slice(at), del) : pos + del
        if (end > at) text.delete(at, end - at)
        if (ins) text.insert(at, ins)
        if (translate) content = content.slice(0, at) + ins + content.slice(end)
      }
    })
    afterTxn?.(index)
  })
}
