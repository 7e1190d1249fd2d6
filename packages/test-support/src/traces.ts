import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'

/** One recorded editing session (josephg/editing-traces format). */
export interface EditingTrace {
  startContent: string
  endContent: string
  /** Each transaction's patches are `[position in code points, deleted count, inserted text]`, descending positions. */
  txns: Array<{ time?: string; patches: Array<[number, number, string]> }>
}

/** Directory of the shared traces: TRACES_DIR, or `../shared/traces` beside the repository. */
export function tracesDir(): string {
  if (process.env.TRACES_DIR) return process.env.TRACES_DIR
  const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..')
  return join(repo, '../shared/traces')
}

/** Loads `<name>.json.gz` from {@link tracesDir}. */
export function loadTrace(name: string): EditingTrace {
  const path = join(tracesDir(), `${name}.json.gz`)
  return JSON.parse(gunzipSync(readFileSync(path)).toString('utf8')) as EditingTrace
}

/**
 * Converts a code-point position to a UTF-16 index in `text` (Y.Text and JavaScript strings count UTF-16 units;
 * the traces count code points).
 */
export function utf16Index(text: string, codePoints: number): number {
  let index = 0
  for (let i = 0; i < codePoints; i++) {
    const code = text.codePointAt(index)
    if (code === undefined) break
    index += code > 0xffff ? 2 : 1
  }
  return index
}
