import type { OtPeer } from '@collab/ot'
import * as Y from 'yjs'
import type { RoomAwareness } from './room-awareness.js'

// Presence across kinds of client ([OT8]): OT clients' selections as y-codemirror.next cursors, and back.

export function randomAwarenessId(awareness: RoomAwareness): number {
  for (;;) {
    const id = Math.floor(Math.random() * 0xffffffff)
    if (!awareness.has(id)) return id
  }
}

export function parseUser(value: unknown): OtPeer['user'] {
  if (typeof value !== 'object' || value === null) return null
  const { name, color, colorLight } = value as Record<string, unknown>
  if (typeof name !== 'string' || typeof color !== 'string') return null
  return {
    name: name.slice(0, 256),
    color: color.slice(0, 64),
    colorLight: typeof colorLight === 'string' ? colorLight.slice(0, 96) : color.slice(0, 64),
  }
}

/** Colours other clients put into a style attribute: hex, a colour name, or rgb()/hsl() with plain arguments. */
export function cssColor(color: string): string | null {
  const trimmed = color.trim()
  return /^(#[0-9a-f]{3,8}|[a-z]{3,30}|(rgb|hsl)a?\([0-9.,%\s]{1,40}\))$/i.test(trimmed) ? trimmed : null
}

/** A Yjs relative position in the JSON shape y-codemirror.next writes and reads unparsed (null fields included). */
export function cursorPosition(ytext: Y.Text, index: number): unknown {
  const position = Y.createRelativePositionFromTypeIndex(ytext, index)
  return { type: position.type, tname: position.tname, item: position.item, assoc: position.assoc }
}

/** The offset in `ytext` of a cursor position some client wrote, or null when it is not one in `ytext`. */
export function cursorOffset(json: unknown, ytext: Y.Text, doc: Y.Doc): number | null {
  if (typeof json !== 'object' || json === null) return null
  try {
    const position = Y.createAbsolutePositionFromRelativePosition(Y.createRelativePositionFromJSON(json), doc)
    if (!position || position.type !== ytext) return null
    return position.index
  } catch {
    // Someone's malformed cursor is not drawn; it changes nothing else.
    return null
  }
}
