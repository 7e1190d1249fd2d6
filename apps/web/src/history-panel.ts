import type { CollabEditor } from '@collab/editor'
import { h } from './dom.js'
import {
  type AuthorRun,
  createNamedVersion,
  deleteVersion,
  fetchVersionAuthors,
  fetchVersions,
  fetchVersionText,
  renameVersion,
  restoreVersion,
  type VersionSummary,
} from './history-api.js'
import { attributeText, authorColors } from './history-authors.js'
import { createHistoryButton } from './history-button.js'
import { versionTitle } from './history-days.js'
import { diffTexts } from './history-diff.js'
import { describeFailure } from './history-failures.js'
import { createVersionList, type Selection } from './history-list.js'
import { createNameForm, type NameTarget } from './history-name-form.js'
import { createAuthorsView, createVersionPreview } from './history-views.js'

/** Where the history lives on the document page. */
export interface HistoryHost {
  docName: string
  editor: CollabEditor
  /** The row holding the editor's area; the panel opens at its end, beside the editor. */
  body: HTMLElement
  /** The editor's area: a version's preview and the authors view cover it while shown. */
  main: HTMLElement
}

/** The header button that opens the panel, and the teardown for when the page goes. */
export interface History {
  button: HTMLButtonElement
  dispose(): void
}

/** How often the open panel looks for versions the server made by itself (after typing stops, a person leaves). */
const listRefreshMs = 15_000
/** How long the text must rest before the list is fetched again: the server makes a version when typing stops. */
const quietRefreshMs = 4_000
/** How often the open panel checks whether the text moved, to keep the comparison and the authors view true. */
const textCheckMs = 500

/**
 * The version history of the document page: a panel beside the editor listing the versions by day, a preview of
 * any of them compared with the current text (with "Restore this version"), naming the current state, renaming
 * and deleting named versions, and a view of the current text coloured by author.
 */
export function createHistory({ docName, editor, body, main }: HistoryHost): History {
  const button = createHistoryButton()

  // Where the panel no longer fits beside the editor and covers it instead (the media query of styles.css).
  const narrowScreen = window.matchMedia('(max-width: 720px)')
  let open = false
  let versions: VersionSummary[] = []
  let selection: Selection = { kind: 'current' }
  let view: 'editor' | 'preview' | 'authors' = 'editor'
  let canWrite = !editor.status.readOnly
  const texts = new Map<string, string>()
  const authorRuns = new Map<string, AuthorRun[]>()
  let loading: AbortController | null = null
  let listing: AbortController | null = null
  let listError: string | null = null

  const currentText = () => editor.view.state.doc.toString()
  const colors = () =>
    authorColors([
      ...versions.flatMap((version) => version.authors),
      ...[...authorRuns.values()].flatMap((runs) => runs.flatMap((run) => (run.user === null ? [] : [run.user]))),
    ])
  const selectedVersion = (): VersionSummary | null => {
    const selected = selection
    return selected.kind === 'version' ? (versions.find((version) => version.id === selected.id) ?? null) : null
  }

  // The panel.
  const title = h('h2', { class: 'history-title', id: 'history-title' }, 'Version history')
  const close = h(
    'button',
    { type: 'button', class: 'icon-button', 'aria-label': 'Close version history', 'data-testid': 'history-close' },
    '×',
  )
  const nameCurrent = h(
    'button',
    { type: 'button', class: 'button', 'data-testid': 'history-name-current' },
    'Name current version',
  )
  const showAuthors = h(
    'button',
    { type: 'button', class: 'button', 'data-testid': 'history-authors-toggle', 'aria-pressed': 'false' },
    'Show authors',
  )
  const readOnlyNote = h(
    'p',
    { class: 'history-note' },
    'Read only: you can look at versions, not restore or name them.',
  )
  const message = h('p', { class: 'history-message', 'data-testid': 'history-message', role: 'status', hidden: true })
  const listState = h('p', { class: 'history-list-state', 'data-testid': 'history-list-state' })
  const nameForm = createNameForm({ onSubmit: (name, target) => saveName(name, target) })
  const list = createVersionList((next) => select(next))
  const panel = h(
    'aside',
    {
      class: 'history-panel',
      id: 'history-panel',
      'data-testid': 'history-panel',
      'aria-labelledby': 'history-title',
      hidden: true,
    },
    h('div', { class: 'history-head' }, title, close),
    h('div', { class: 'history-tools' }, nameCurrent, showAuthors),
    readOnlyNote,
    nameForm.element,
    message,
    h('div', { class: 'history-scroll' }, list.element, listState),
  )
  const preview = createVersionPreview({
    onRestore: () => void restoreSelected(),
    onRename: () => {
      const version = selectedVersion()
      if (version) nameForm.open({ kind: 'rename', id: version.id }, version.name ?? '')
    },
    onDelete: () => {
      const version = selectedVersion()
      if (version) preview.confirmDelete(() => void deleteSelected(version))
    },
    onBack: () => select({ kind: 'current' }),
  })
  const authorsView = createAuthorsView(() => showEditorArea())
  body.append(panel)
  main.append(preview.element, authorsView.element)

  // Messages.
  let messageTimer: ReturnType<typeof setTimeout> | undefined
  const say = (text: string, tone: 'info' | 'error' = 'info') => {
    message.textContent = text
    message.dataset.tone = tone
    message.hidden = false
    clearTimeout(messageTimer)
    if (tone === 'info') messageTimer = setTimeout(() => (message.hidden = true), 8_000)
  }

  // Drawing.
  const renderList = () => {
    list.render({ versions, selection, colors: colors(), now: Date.now() })
    listState.hidden = listError === null && versions.length > 0
    listState.classList.toggle('error', listError !== null)
    listState.textContent =
      listError ??
      'No versions yet. The server keeps one automatically when editing pauses; “Name current version” keeps one now.'
  }
  const renderTools = () => {
    nameCurrent.hidden = !canWrite
    readOnlyNote.hidden = canWrite
    showAuthors.setAttribute('aria-pressed', String(view === 'authors'))
    showAuthors.textContent = view === 'authors' ? 'Hide authors' : 'Show authors'
  }
  const renderPreview = () => {
    const version = selectedVersion()
    if (view !== 'preview' || !version) return
    const text = texts.get(version.id)
    if (text === undefined) preview.showState(version, 'loading')
    else preview.show(version, diffTexts(text, currentText()), { canWrite })
  }
  const renderAuthors = () => {
    if (view !== 'authors') return
    const newest = versions[0] ?? null
    const runs = newest ? authorRuns.get(newest.id) : []
    if (runs === undefined) authorsView.showState('loading')
    else authorsView.show(attributeText(runs, currentText()), colors(), newest)
  }
  const setView = (next: typeof view) => {
    view = next
    preview.element.hidden = next !== 'preview'
    authorsView.element.hidden = next !== 'authors'
    main.classList.toggle('is-covered', next !== 'editor')
    renderTools()
  }

  // Loading.
  const refreshList = async () => {
    listing?.abort()
    const controller = new AbortController()
    listing = controller
    if (versions.length === 0 && listError === null) listState.textContent = 'Loading versions…'
    try {
      const fetched = await fetchVersions(docName, controller.signal)
      if (controller.signal.aborted) return
      const newestBefore = versions[0]?.id
      versions = fetched
      listError = null
      if (selection.kind === 'version' && !selectedVersion()) {
        say('That version no longer exists.', 'error')
        select({ kind: 'current' })
      }
      renderList()
      if (view === 'authors' && versions[0]?.id !== newestBefore) void loadAuthors()
    } catch (err) {
      if (controller.signal.aborted) return
      listError = describeFailure(err, 'The versions could not be loaded.')
      renderList()
    }
  }
  const loadSelected = async (version: VersionSummary) => {
    if (texts.has(version.id)) return renderPreview()
    const controller = replaceLoading()
    preview.showState(version, 'loading')
    try {
      const text = await fetchVersionText(docName, version.id, controller.signal)
      texts.set(version.id, text)
      if (!controller.signal.aborted) renderPreview()
    } catch (err) {
      if (!controller.signal.aborted)
        preview.showState(version, { error: describeFailure(err, 'This version could not be loaded.') })
    }
  }
  const loadAuthors = async () => {
    const newest = versions[0]
    if (!newest || authorRuns.has(newest.id)) return renderAuthors()
    const controller = replaceLoading()
    authorsView.showState('loading')
    try {
      authorRuns.set(newest.id, await fetchVersionAuthors(docName, newest.id, controller.signal))
      if (!controller.signal.aborted) {
        renderAuthors()
        renderList()
      }
    } catch (err) {
      if (!controller.signal.aborted)
        authorsView.showState({ error: describeFailure(err, 'The authors could not be loaded.') })
    }
  }
  const replaceLoading = () => {
    loading?.abort()
    loading = new AbortController()
    return loading
  }

  // Actions.
  function select(next: Selection): void {
    selection = next
    nameForm.close()
    renderList()
    const version = selectedVersion()
    if (!version) {
      showEditorArea()
      return
    }
    setView('preview')
    // On a narrow screen the panel covers the editor's area: it steps aside so the version can be read.
    panel.classList.toggle('is-collapsed', narrowScreen.matches)
    void loadSelected(version)
  }
  function showEditorArea(): void {
    loading?.abort()
    selection = { kind: 'current' }
    setView('editor')
    panel.classList.remove('is-collapsed')
    renderList()
  }
  async function restoreSelected(): Promise<void> {
    const version = selectedVersion()
    if (!version) return
    preview.setBusy(true)
    try {
      const { before, changed } = await restoreVersion(docName, version.id)
      if (!changed) say(`“${versionTitle(version)}” is the same as the current text: nothing to restore.`)
      // The version kept of the text before the restore is now the newest: restoring it undoes this.
      else if (before) say(`Restored “${versionTitle(version)}”. To undo it, restore the newest version in the list.`)
      else say(`Restored “${versionTitle(version)}”.`)
      showEditorArea()
      editor.view.focus()
      await refreshList()
    } catch (err) {
      say(describeFailure(err, 'The version could not be restored.'), 'error')
    } finally {
      preview.setBusy(false)
    }
  }
  async function deleteSelected(version: VersionSummary): Promise<void> {
    try {
      await deleteVersion(docName, version.id)
      say(`Deleted “${versionTitle(version)}”.`)
      versions = versions.filter((entry) => entry.id !== version.id)
      select({ kind: 'current' })
      await refreshList()
    } catch (err) {
      say(describeFailure(err, 'The version could not be deleted.'), 'error')
    }
  }
  async function saveName(name: string, target: NameTarget): Promise<string | null> {
    try {
      if (target.kind === 'create') {
        const version = await createNamedVersion(docName, name)
        say(`Named the current version “${name}”.`)
        versions = [version, ...versions.filter((entry) => entry.id !== version.id)]
      } else {
        await renameVersion(docName, target.id, name)
        say(`Renamed the version “${name}”.`)
        versions = versions.map((entry) => (entry.id === target.id ? { ...entry, name } : entry))
        renderPreview()
      }
    } catch (err) {
      return describeFailure(err, 'The name could not be saved.')
    }
    renderList()
    void refreshList()
    return null
  }

  // Opening and closing, and keeping up with the document while open.
  let listTimer: ReturnType<typeof setInterval> | undefined
  let textTimer: ReturnType<typeof setInterval> | undefined
  let lastDoc = editor.view.state.doc
  let changedAt = 0
  const watchText = () => {
    const doc = editor.view.state.doc
    if (doc !== lastDoc) {
      lastDoc = doc
      changedAt = Date.now()
      renderPreview()
      renderAuthors()
    } else if (changedAt !== 0 && Date.now() - changedAt >= quietRefreshMs) {
      changedAt = 0
      void refreshList()
    }
  }
  const setOpen = (next: boolean) => {
    if (open === next) return
    open = next
    panel.hidden = !open
    button.setAttribute('aria-expanded', String(open))
    button.classList.toggle('is-active', open)
    clearInterval(listTimer)
    clearInterval(textTimer)
    if (open) {
      lastDoc = editor.view.state.doc
      listTimer = setInterval(() => void refreshList(), listRefreshMs)
      textTimer = setInterval(watchText, textCheckMs)
      renderTools()
      renderList()
      void refreshList()
      list.element.querySelector<HTMLButtonElement>('button.history-item')?.focus()
    } else {
      listing?.abort()
      nameForm.close()
      showEditorArea()
      editor.view.focus()
    }
  }
  button.addEventListener('click', () => {
    if (open && panel.classList.contains('is-collapsed')) panel.classList.remove('is-collapsed')
    else setOpen(!open)
  })
  close.addEventListener('click', () => setOpen(false))
  nameCurrent.addEventListener('click', () => nameForm.open({ kind: 'create' }, ''))
  showAuthors.addEventListener('click', () => {
    if (view === 'authors') return showEditorArea()
    selection = { kind: 'current' }
    nameForm.close()
    renderList()
    setView('authors')
    panel.classList.toggle('is-collapsed', narrowScreen.matches)
    void loadAuthors()
  })
  const onKeydown = (event: KeyboardEvent) => {
    if (event.key !== 'Escape' || !open || event.defaultPrevented) return
    if ((event.target as Element | null)?.closest('input, textarea, [role=alertdialog]')) return
    if (view !== 'editor') {
      showEditorArea()
      editor.view.focus()
    } else if (panel.contains(event.target as Node)) {
      setOpen(false)
    }
  }
  document.addEventListener('keydown', onKeydown)
  const stopStatus = editor.onStatus((status) => {
    if (canWrite === !status.readOnly) return
    canWrite = !status.readOnly
    renderTools()
    renderPreview()
  })

  return {
    button,
    dispose() {
      clearInterval(listTimer)
      clearInterval(textTimer)
      clearTimeout(messageTimer)
      listing?.abort()
      loading?.abort()
      stopStatus()
      document.removeEventListener('keydown', onKeydown)
      nameForm.close()
    },
  }
}
