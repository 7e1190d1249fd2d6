import { type EditorState, type Extension, type Range, StateEffect, StateField } from '@codemirror/state'
import { Decoration, type DecorationSet, EditorView, WidgetType } from '@codemirror/view'
import { yRemoteSelectionsTheme } from 'y-codemirror.next'

/** Someone else's selection, as offsets in the local document. */
export interface RemoteCursor {
  id: number
  name: string
  color: string
  colorLight: string
  anchor: number
  head: number
}

/** Replaces every remote cursor; offsets must be positions in the document of the transaction's new state. */
export const setRemoteCursors = StateEffect.define<readonly RemoteCursor[]>()

const remoteCursorField = StateField.define<readonly RemoteCursor[]>({
  create: () => [],
  update(cursors, tr) {
    for (const effect of tr.effects) if (effect.is(setRemoteCursors)) return clampAll(effect.value, tr.state)
    if (!tr.docChanged || cursors.length === 0) return cursors
    // Associated forwards, as a Yjs relative position is: text typed at someone's caret goes before it.
    return cursors.map((cursor) => ({
      ...cursor,
      anchor: tr.changes.mapPos(cursor.anchor, 1),
      head: tr.changes.mapPos(cursor.head, 1),
    }))
  },
})

/**
 * Draws {@link RemoteCursor}s set with {@link setRemoteCursors} the way y-codemirror.next draws Yjs cursors (same
 * classes and base theme, so `calmTheme` styles both), and keeps them in place through local edits.
 */
export function remoteCursors(): Extension {
  return [
    remoteCursorField,
    EditorView.decorations.compute([remoteCursorField], (state) => cursorDecorations(state)),
    yRemoteSelectionsTheme,
  ]
}

function clampAll(cursors: readonly RemoteCursor[], state: EditorState): readonly RemoteCursor[] {
  const clamp = (pos: number) => Math.max(0, Math.min(state.doc.length, pos))
  return cursors.map((cursor) => ({ ...cursor, anchor: clamp(cursor.anchor), head: clamp(cursor.head) }))
}

function cursorDecorations(state: EditorState): DecorationSet {
  const decorations: Range<Decoration>[] = []
  for (const cursor of state.field(remoteCursorField)) {
    // The style attribute is a string: only a colour that cannot close the declaration goes into it.
    const background = `background-color: ${safeColor(cursor.colorLight, '#8a94a633')}`
    const start = Math.min(cursor.anchor, cursor.head)
    const end = Math.max(cursor.anchor, cursor.head)
    if (start < end) {
      const startLine = state.doc.lineAt(start)
      const endLine = state.doc.lineAt(end)
      const mark = Decoration.mark({ attributes: { style: background }, class: 'cm-ySelection' })
      if (startLine.number === endLine.number) decorations.push(mark.range(start, end))
      else {
        if (start < startLine.to) decorations.push(mark.range(start, startLine.to))
        for (let line = startLine.number + 1; line < endLine.number; line++) {
          const from = state.doc.line(line).from
          decorations.push(
            Decoration.line({ attributes: { style: background, class: 'cm-yLineSelection' } }).range(from),
          )
        }
        if (endLine.from < end) decorations.push(mark.range(endLine.from, end))
      }
    }
    decorations.push(
      Decoration.widget({
        // The local caret is drawn outside the remote selection.
        side: cursor.head - cursor.anchor > 0 ? -1 : 1,
        widget: new RemoteCaretWidget(safeColor(cursor.color, '#8a94a6'), cursor.name),
      }).range(cursor.head),
    )
  }
  return Decoration.set(decorations, true)
}

/** y-codemirror.next's caret: a coloured bar with a dot and the name label. */
class RemoteCaretWidget extends WidgetType {
  constructor(
    readonly color: string,
    readonly name: string,
  ) {
    super()
  }

  override toDOM(): HTMLElement {
    const caret = document.createElement('span')
    caret.className = 'cm-ySelectionCaret'
    caret.style.backgroundColor = this.color
    caret.style.borderColor = this.color
    const dot = document.createElement('div')
    dot.className = 'cm-ySelectionCaretDot'
    const info = document.createElement('div')
    info.className = 'cm-ySelectionInfo'
    // A name from the network: text, never HTML.
    info.textContent = this.name
    caret.append('\u2060', dot, '\u2060', info, '\u2060')
    return caret
  }

  override eq(other: RemoteCaretWidget): boolean {
    return other.color === this.color && other.name === this.name
  }

  override get estimatedHeight(): number {
    return -1
  }

  override ignoreEvent(): boolean {
    return true
  }
}

/** `color` if it is a hex, named or functional colour without characters that could end a CSS declaration. */
function safeColor(color: string, fallback: string): string {
  return /^(#[0-9a-f]{3,8}|[a-z]+|[a-z-]+\([^;:{}"'<>]*\))$/i.test(color) ? color : fallback
}
