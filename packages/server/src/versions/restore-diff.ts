import { changesBetween } from '@collab/ot'

/** One replacement in the text a restore starts from: `[from, to)` becomes `insert`. */
export interface TextEdit {
  from: number
  to: number
  insert: string
}

/**
 * The edits that turn `from` into `to`, line by line, in ascending order ([VH3]). Lines both texts share are left
 * alone (they keep their authors and the cursors in them); changed lines are replaced whole. A character diff would
 * find a smaller change, but one that keeps scattered letters of today's text inside the restored words, each
 * still credited to whoever typed it today. Myers' diff (@collab/ot's `changesBetween`) runs over one character per
 * distinct line; a text with more distinct lines than there are such characters falls back to a character diff.
 */
export function lineEdits(from: string, to: string): TextEdit[] {
  const fromLines = splitLines(from)
  const toLines = splitLines(to)
  const codes = new Map<string, string>()
  const encode = (lines: readonly string[]): string | null => {
    let encoded = ''
    for (const line of lines) {
      let code = codes.get(line)
      if (code === undefined) {
        const char = charForIndex(codes.size)
        if (char === null) return null
        code = char
        codes.set(line, code)
      }
      encoded += code
    }
    return encoded
  }
  const fromCodes = encode(fromLines)
  const toCodes = encode(toLines)
  if (fromCodes === null || toCodes === null) return characterEdits(from, to)
  const fromOffsets = offsetsOf(fromLines)
  const edits: TextEdit[] = []
  changesBetween(fromCodes, toCodes).iterChanges((fromA, toA, fromB, toB) => {
    edits.push({
      from: fromOffsets[fromA] ?? from.length,
      to: fromOffsets[toA] ?? from.length,
      insert: toLines.slice(fromB, toB).join(''),
    })
  })
  return edits
}

function characterEdits(from: string, to: string): TextEdit[] {
  const edits: TextEdit[] = []
  changesBetween(from, to).iterChanges((fromA, toA, _fromB, _toB, inserted) => {
    edits.push({ from: fromA, to: toA, insert: inserted.toString() })
  })
  return edits
}

/** The lines of `text`, each with its line break (the last one may have none). */
function splitLines(text: string): string[] {
  const lines: string[] = []
  let start = 0
  for (let index = text.indexOf('\n'); index >= 0; index = text.indexOf('\n', start)) {
    lines.push(text.slice(start, index + 1))
    start = index + 1
  }
  if (start < text.length) lines.push(text.slice(start))
  return lines
}

/** Where each line starts, plus the end of the text. */
function offsetsOf(lines: readonly string[]): number[] {
  const offsets = [0]
  let offset = 0
  for (const line of lines) {
    offset += line.length
    offsets.push(offset)
  }
  return offsets
}

const privateUse = { start: 0xe000, size: 0xf900 - 0xe000 }
const cjk = { start: 0x4e00, size: 0xa000 - 0x4e00 }

/**
 * A single UTF-16 unit standing for the `index`th distinct line: never a surrogate, which the diff would refuse to
 * split inside of; `null` once they are used up.
 */
function charForIndex(index: number): string | null {
  if (index < privateUse.size) return String.fromCharCode(privateUse.start + index)
  if (index < privateUse.size + cjk.size) return String.fromCharCode(cjk.start + index - privateUse.size)
  return null
}
