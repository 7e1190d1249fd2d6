import type { Extension } from '@codemirror/state'
import { EditorView } from '@codemirror/view'

const ink = '#1f2933'
const muted = '#9aa5b1'
const paper = '#ffffff'

/**
 * A quiet light theme for documents: readable type, generous line height, soft gutters, and remote name labels
 * that stay visible (y-codemirror.next shows them only on hover) in the app's sans-serif font.
 */
export const calmTheme: Extension = EditorView.theme(
  {
    '&': {
      color: ink,
      backgroundColor: paper,
      fontSize: '15px',
      height: '100%',
    },
    '&.cm-focused': { outline: 'none' },
    '.cm-scroller': {
      fontFamily: 'ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace',
      lineHeight: '1.65',
    },
    // Room above the first line so a remote name label there is not clipped.
    '.cm-content': { padding: '28px 0 40vh', caretColor: ink },
    '.cm-line': { padding: '0 24px 0 12px' },
    '.cm-gutters': { backgroundColor: paper, color: muted, border: 'none', paddingLeft: '12px' },
    '.cm-gutter.cm-lineNumbers .cm-gutterElement': { padding: '0 8px 0 4px' },
    '.cm-activeLine': { backgroundColor: '#f5f7fa' },
    '.cm-activeLineGutter': { backgroundColor: 'transparent', color: '#52606d' },
    '.cm-cursor, .cm-dropCursor': { borderLeftColor: ink, borderLeftWidth: '2px' },
    '&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground': {
      backgroundColor: '#d9e6f7',
    },
    '.cm-foldPlaceholder': { backgroundColor: '#eef1f5', border: 'none', color: '#52606d' },
    '.cm-ySelectionInfo': {
      opacity: '1',
      top: '-1.45em',
      left: '-1px',
      padding: '1px 6px',
      borderRadius: '4px 4px 4px 0',
      fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
      fontSize: '11px',
      fontWeight: '600',
      lineHeight: '1.4',
      letterSpacing: '0.01em',
    },
    '.cm-ySelectionCaret': { borderLeftWidth: '1px', borderRightWidth: '1px' },
  },
  { dark: false },
)
