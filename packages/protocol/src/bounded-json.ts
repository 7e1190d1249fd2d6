/** Bounds on JSON from the network, checked before it is parsed. */
export interface JsonBounds {
  /** Deepest nesting of arrays and objects. */
  maxDepth: number
  /** Object members plus array elements, over the whole value. */
  maxMembers: number
}

/**
 * Bounds for awareness states. A cursor with a name and a colour nests 5 deep and has about 15 members; these leave
 * a wide margin while keeping every state safe to re-encode: `JSON.stringify` recurses, so a state nested a few
 * thousand deep throws a RangeError in whoever encodes it next (the server for a joining client, every stock client
 * that receives it).
 */
export const awarenessJsonBounds: JsonBounds = { maxDepth: 32, maxMembers: 4_096 }

/**
 * Parses untrusted JSON after checking its nesting depth and member count in one linear scan of the text, so a
 * hostile value is refused before anything is built from it. Throws a RangeError that says which bound was
 * exceeded, or a SyntaxError for text that is not JSON.
 */
export function parseBoundedJson(text: string, bounds: JsonBounds): unknown {
  checkJsonBounds(text, bounds)
  return JSON.parse(text)
}

const openBrace = 0x7b
const closeBrace = 0x7d
const openBracket = 0x5b
const closeBracket = 0x5d
const comma = 0x2c
const quote = 0x22
const backslash = 0x5c

/**
 * Counts depth and members outside strings. It does not validate the JSON (JSON.parse does that next); it only
 * has to be exact for text that JSON.parse accepts, and bounded for any text.
 */
function checkJsonBounds(text: string, { maxDepth, maxMembers }: JsonBounds): void {
  let depth = 0
  let members = 0
  // Whether the innermost open container has at least one member so far: `[]` has none, `[1]` has one.
  let containerHasMember = false
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (inString) {
      if (code === backslash) i++
      else if (code === quote) inString = false
      continue
    }
    switch (code) {
      case quote:
        inString = true
        if (!containerHasMember && depth > 0) countMember()
        break
      case openBrace:
      case openBracket:
        if (!containerHasMember && depth > 0) countMember()
        depth++
        if (depth > maxDepth) throw new RangeError(`JSON nested deeper than ${maxDepth} levels`)
        containerHasMember = false
        break
      case closeBrace:
      case closeBracket:
        depth--
        // The enclosing container holds at least this one.
        containerHasMember = true
        break
      case comma:
        containerHasMember = false
        break
      case 0x20:
      case 0x09:
      case 0x0a:
      case 0x0d:
      case 0x3a: // ':' separates a key from its value; the key already counted the member
        break
      default:
        // A number, true, false or null.
        if (!containerHasMember && depth > 0) countMember()
    }
  }

  function countMember(): void {
    containerHasMember = true
    members++
    if (members > maxMembers) throw new RangeError(`JSON has more than ${maxMembers} members`)
  }
}
