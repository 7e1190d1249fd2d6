import { lightColor } from '@collab/editor'
import { h } from './dom.js'
import type { VersionSummary } from './history-api.js'
import { type AttributedRun, authorShares, unknownAuthorColor } from './history-authors.js'
import { authorsLabel, dateTimeLabel, versionTitle } from './history-days.js'
import { countChanges, type DiffSegment } from './history-diff.js'
import { authorAvatar } from './history-list.js'

// The two views that take the editor's place while the history panel is open: a version compared with the current
// text, and the current text coloured by author. Both are read-only snapshots the panel redraws when the text moves.

/** What the preview of a version can do; the panel decides which apply (a read-only token cannot restore). */
export interface PreviewActions {
  onRestore(): void
  onRename(): void
  onDelete(): void
  onBack(): void
}

/** The comparison of one version with the current text, with its actions. */
export interface VersionPreview {
  element: HTMLElement
  /** Shows `version` compared with the current text; `segments` go from the version to now. */
  show(version: VersionSummary, segments: readonly DiffSegment[], options: { canWrite: boolean }): void
  /** Shows that the version is loading, or why it could not be. */
  showState(version: VersionSummary, state: 'loading' | { error: string }): void
  /** Marks the restore as under way (its button disabled) or done. */
  setBusy(busy: boolean): void
  /** Asks, in the view, whether to delete the named version; `onConfirm` runs on yes. */
  confirmDelete(onConfirm: () => void): void
}

/** Creates the preview; it is hidden until shown. */
export function createVersionPreview(actions: PreviewActions): VersionPreview {
  const title = h('h2', { class: 'history-view-title', 'data-testid': 'history-preview-title' })
  const meta = h('p', { class: 'history-view-meta' })
  const summary = h('span', { class: 'history-change-count', 'data-testid': 'history-change-count' })
  const highlight = h('input', { type: 'checkbox', checked: true, 'data-testid': 'history-highlight' })
  const previous = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Previous change' }, '↑')
  const next = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Next change' }, '↓')
  const legend = h(
    'div',
    { class: 'history-legend' },
    h('span', { class: 'legend-item' }, h('ins', { class: 'legend-sample' }, 'abc'), 'Added since'),
    h('span', { class: 'legend-item' }, h('del', { class: 'legend-sample' }, 'abc'), 'Removed since'),
    h('span', { class: 'history-nav' }, summary, previous, next),
    h('label', { class: 'history-toggle-label' }, highlight, 'Highlight changes'),
  )
  const rename = h('button', { type: 'button', class: 'button', 'data-testid': 'history-rename' }, 'Rename')
  const remove = h('button', { type: 'button', class: 'button danger', 'data-testid': 'history-delete' }, 'Delete')
  const back = h('button', { type: 'button', class: 'button', 'data-testid': 'history-back' }, 'Back to editing')
  const restore = h(
    'button',
    { type: 'button', class: 'button primary', 'data-testid': 'history-restore' },
    'Restore this version',
  )
  const confirmText = h('span', {})
  const confirmYes = h(
    'button',
    { type: 'button', class: 'button danger solid', 'data-testid': 'history-delete-confirm' },
    'Delete',
  )
  const confirmNo = h('button', { type: 'button', class: 'button' }, 'Keep it')
  const confirm = h(
    'div',
    { class: 'history-confirm', role: 'alertdialog', hidden: true },
    confirmText,
    confirmNo,
    confirmYes,
  )
  const text = h('div', { class: 'history-text', 'data-testid': 'history-preview-text', tabindex: 0 })
  const state = h('p', { class: 'history-view-state', hidden: true })
  const element = h(
    'section',
    { class: 'history-view', 'data-testid': 'history-preview', 'aria-label': 'Version preview', hidden: true },
    h(
      'div',
      { class: 'history-view-bar' },
      h('div', { class: 'history-view-heading' }, title, meta),
      h('div', { class: 'history-view-actions' }, rename, remove, back, restore),
    ),
    legend,
    confirm,
    h('div', { class: 'history-view-scroll' }, state, text),
  )

  let changes: HTMLElement[] = []
  let at = -1
  const goTo = (index: number) => {
    if (changes.length === 0) return
    at = (index + changes.length) % changes.length
    const target = changes[at] as HTMLElement
    target.scrollIntoView({ block: 'center', behavior: 'smooth' })
    for (const change of changes) change.classList.toggle('is-focused', change === target)
    summary.textContent = `${at + 1} of ${changes.length} change${changes.length === 1 ? '' : 's'}`
  }
  previous.addEventListener('click', () => goTo(at - 1))
  next.addEventListener('click', () => goTo(at + 1))
  highlight.addEventListener('change', () => text.classList.toggle('is-plain', !highlight.checked))
  rename.addEventListener('click', actions.onRename)
  remove.addEventListener('click', actions.onDelete)
  back.addEventListener('click', actions.onBack)
  restore.addEventListener('click', actions.onRestore)
  let onConfirm: (() => void) | null = null
  confirmNo.addEventListener('click', () => {
    confirm.hidden = true
  })
  confirmYes.addEventListener('click', () => {
    confirm.hidden = true
    onConfirm?.()
  })

  const heading = (version: VersionSummary, canWrite: boolean) => {
    element.hidden = false
    title.textContent = versionTitle(version)
    meta.textContent = `${dateTimeLabel(version.at)} · ${authorsLabel(version.authors)}`
    rename.textContent = version.name === null ? 'Name' : 'Rename'
    rename.hidden = !canWrite
    remove.hidden = !canWrite || version.name === null
    restore.hidden = !canWrite
    confirm.hidden = true
  }

  return {
    element,
    show(version, segments, { canWrite }) {
      heading(version, canWrite)
      state.hidden = true
      text.hidden = false
      legend.hidden = false
      changes = renderDiff(text, segments)
      at = -1
      const count = countChanges(segments)
      summary.textContent = count === 0 ? 'Same as the current text' : `${count} change${count === 1 ? '' : 's'}`
      previous.disabled = next.disabled = count === 0
      restore.disabled = count === 0
      restore.title = count === 0 ? 'This version is the same as the current text' : ''
    },
    showState(version, loading) {
      heading(version, false)
      legend.hidden = true
      text.hidden = true
      state.hidden = false
      state.classList.toggle('error', loading !== 'loading')
      state.textContent = loading === 'loading' ? 'Loading this version…' : loading.error
    },
    setBusy(busy) {
      restore.disabled = busy
      restore.textContent = busy ? 'Restoring…' : 'Restore this version'
    },
    confirmDelete(callback) {
      onConfirm = callback
      confirmText.textContent = `Delete the version “${title.textContent}”? This cannot be undone.`
      confirm.hidden = false
      confirmNo.focus()
    },
  }
}

/** Fills `target` with the comparison; returns the first element of each change, for "next change". */
function renderDiff(target: HTMLElement, segments: readonly DiffSegment[]): HTMLElement[] {
  const starts: HTMLElement[] = []
  let inChange = false
  const nodes = segments.map((segment) => {
    if (segment.kind === 'same') {
      inChange = false
      return document.createTextNode(segment.text)
    }
    const node = h(segment.kind === 'insert' ? 'ins' : 'del', {}, segment.text)
    if (!inChange) starts.push(node)
    inChange = true
    return node
  })
  target.replaceChildren(...nodes)
  return starts
}

/** The current text coloured by who wrote it. */
export interface AuthorsView {
  element: HTMLElement
  show(runs: readonly AttributedRun[], colors: ReadonlyMap<string, string>, source: VersionSummary | null): void
  showState(state: 'loading' | { error: string }): void
}

/** Creates the authors view; it is hidden until shown. */
export function createAuthorsView(onBack: () => void): AuthorsView {
  const meta = h('p', { class: 'history-view-meta' })
  const back = h(
    'button',
    { type: 'button', class: 'button', 'data-testid': 'history-authors-back' },
    'Back to editing',
  )
  back.addEventListener('click', onBack)
  const legend = h('ul', { class: 'author-legend', 'data-testid': 'history-author-legend', 'aria-label': 'Authors' })
  const note = h('p', { class: 'history-note', hidden: true })
  const text = h('div', { class: 'history-text', 'data-testid': 'history-authors-text', tabindex: 0 })
  const state = h('p', { class: 'history-view-state', hidden: true })
  const element = h(
    'section',
    { class: 'history-view', 'data-testid': 'history-authors', 'aria-label': 'Who wrote what', hidden: true },
    h(
      'div',
      { class: 'history-view-bar' },
      h('div', { class: 'history-view-heading' }, h('h2', { class: 'history-view-title' }, 'Who wrote what'), meta),
      h('div', { class: 'history-view-actions' }, back),
    ),
    legend,
    note,
    h('div', { class: 'history-view-scroll' }, state, text),
  )
  return {
    element,
    show(runs, colors, source) {
      element.hidden = false
      state.hidden = true
      text.hidden = false
      legend.hidden = false
      meta.textContent = source
        ? `The current text, attributed as of the version of ${dateTimeLabel(source.at)}`
        : 'The current text'
      const colorOf = (user: string | null) =>
        user === null ? unknownAuthorColor : (colors.get(user) ?? unknownAuthorColor)
      const shares = authorShares(runs)
      const total = shares.reduce((sum, share) => sum + share.chars, 0)
      legend.replaceChildren(
        ...shares.map(({ user, chars }) =>
          h(
            'li',
            { class: 'author-legend-item', 'data-testid': 'history-author', 'data-user': user ?? '' },
            authorAvatar(user ?? '?', colorOf(user)),
            h('span', { class: 'author-name' }, user ?? 'Unknown author'),
            h('span', { class: 'author-share' }, percent(chars, total)),
          ),
        ),
      )
      const recent = runs.reduce((sum, run) => sum + (run.recent ? run.text.length : 0), 0)
      note.hidden = recent === 0
      note.textContent = source
        ? `${recent} character${recent === 1 ? '' : 's'} written since that version (dotted underline) get their author with the next version.`
        : 'No version of this document exists yet: authors are known from the first version on.'
      text.replaceChildren(
        ...runs.map((run) => {
          if (run.recent)
            return h('span', { class: 'authored is-recent', title: 'Written since the last version' }, run.text)
          const span = h(
            'span',
            { class: 'authored', title: run.user ?? 'Unknown author', 'data-user': run.user ?? '' },
            run.text,
          )
          span.style.setProperty('--author', colorOf(run.user))
          span.style.setProperty('--author-light', lightColor(colorOf(run.user)))
          return span
        }),
      )
    },
    showState(loading) {
      element.hidden = false
      text.hidden = true
      legend.hidden = true
      note.hidden = true
      state.hidden = false
      state.classList.toggle('error', loading !== 'loading')
      state.textContent = loading === 'loading' ? 'Finding who wrote what…' : loading.error
      meta.textContent = 'The current text'
    },
  }
}

function percent(part: number, total: number): string {
  if (total === 0) return ''
  const value = (part / total) * 100
  return value > 0 && value < 1 ? '<1%' : `${Math.round(value)}%`
}
