import { Text } from '@codemirror/state'

/**
 * A line-based Text from a string, splitting only on "\n". OT clients use `EditorState.lineSeparator.of("\n")`
 * ([OT5]), so a "\r\n" a Yjs client wrote stays the two characters it is in the Y.Text; CodeMirror's default
 * splitting would turn it into one line break and shift every later offset.
 */
export function textOf(str: string): Text {
  return Text.of(str.split('\n'))
}

/** Whether a UTF-16 code unit is the first half of a surrogate pair. */
export function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}

/** Whether a UTF-16 code unit is the second half of a surrogate pair. */
export function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff
}

/** Whether every surrogate code unit of `str` is part of a pair (what `String.prototype.isWellFormed` checks). */
export function isWellFormedUtf16(str: string): boolean {
  for (let i = 0; i < str.length; i++) {
    const code = str.charCodeAt(i)
    if (isHighSurrogate(code)) {
      if (!isLowSurrogate(str.charCodeAt(i + 1))) return false
      i++
    } else if (isLowSurrogate(code)) {
      return false
    }
  }
  return true
}

/** Whether position `pos` of `doc` lies between the two halves of a surrogate pair. */
export function insideSurrogatePair(doc: Text, pos: number): boolean {
  if (pos <= 0 || pos >= doc.length) return false
  const around = doc.sliceString(pos - 1, pos + 1)
  return isHighSurrogate(around.charCodeAt(0)) && isLowSurrogate(around.charCodeAt(1))
}
