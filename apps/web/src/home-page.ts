import { type DocSummary, fetchDocs } from './api.js'
import { brandMark } from './brand.js'
import { docNameProblem, randomDocName } from './doc-names.js'
import { h } from './dom.js'
import { formatBytes, formatRelativeTime } from './format.js'
import { createOfflineDocsCard, createRecoveredCopiesCard } from './offline-docs.js'
import { docPath, navigate } from './router.js'

/** The start page: create a document, open one by name, or pick one from the list of stored documents. */
export function mountHomePage(root: HTMLElement): () => void {
  document.title = 'Collab'
  const newButton = h(
    'button',
    { type: 'button', class: 'button primary large', 'data-testid': 'new-doc' },
    'New document',
  )
  newButton.addEventListener('click', () => navigate(docPath(randomDocName())))

  const list = h('ul', { class: 'doc-list', 'data-testid': 'doc-list', 'aria-busy': 'true' })
  const listState = h('p', { class: 'list-state' }, 'Loading documents…')
  const offlineDocs = createOfflineDocsCard()
  const recovered = createRecoveredCopiesCard()

  root.append(
    h(
      'main',
      { class: 'home' },
      h('header', { class: 'home-header' }, brandMark(true)),
      h(
        'section',
        { class: 'hero' },
        h('h1', {}, 'Write together, in real time.'),
        h(
          'p',
          { class: 'lede' },
          'Every document has a link. Share it, and everyone who opens it edits the same text.',
        ),
      ),
      h('section', { class: 'card start-card' }, newButton, h('span', { class: 'or' }, 'or'), createOpenForm()),
      h(
        'section',
        { class: 'card docs-card', 'aria-labelledby': 'docs-heading' },
        h('h2', { id: 'docs-heading' }, 'Documents'),
        list,
        listState,
      ),
      offlineDocs.element,
      recovered.element,
    ),
  )

  const loading = new AbortController()
  let docs: DocSummary[] = []
  const renderList = () => {
    list.replaceChildren(...docs.map(renderDocItem))
    list.hidden = docs.length === 0
    listState.hidden = docs.length > 0
    listState.className = 'list-state empty'
    listState.dataset.testid = 'doc-list-empty'
    listState.textContent = 'No documents yet. Start one with “New document”, then share its link.'
  }
  fetchDocs(loading.signal).then(
    (loaded) => {
      docs = loaded
      list.removeAttribute('aria-busy')
      renderList()
    },
    (err: unknown) => {
      if (loading.signal.aborted) return
      console.error('loading the document list failed', err)
      list.removeAttribute('aria-busy')
      listState.className = 'list-state error'
      listState.textContent = 'The document list could not be loaded. Reload the page to try again.'
    },
  )
  // "2 minutes ago" goes stale while the page stays open.
  const refreshTimes = setInterval(() => {
    if (docs.length > 0) renderList()
  }, 30_000)

  return () => {
    loading.abort()
    clearInterval(refreshTimes)
    offlineDocs.dispose()
    recovered.dispose()
  }
}

function createOpenForm(): HTMLFormElement {
  const input = h('input', {
    id: 'open-name',
    class: 'text-input',
    'data-testid': 'open-name',
    placeholder: 'team-notes',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': 'open-error',
  })
  const error = h('p', {
    id: 'open-error',
    class: 'field-error',
    'data-testid': 'open-error',
    role: 'alert',
    hidden: true,
  })
  const form = h(
    'form',
    { class: 'open-form' },
    h('label', { for: 'open-name', class: 'field-label' }, 'Open by name'),
    h(
      'div',
      { class: 'field-row' },
      input,
      h('button', { type: 'submit', class: 'button', 'data-testid': 'open-submit' }, 'Open'),
    ),
    error,
  )
  form.noValidate = true
  const showProblem = (problem: string | null) => {
    error.textContent = problem ?? ''
    error.hidden = problem === null
    input.setAttribute('aria-invalid', String(problem !== null))
  }
  input.addEventListener('input', () => showProblem(null))
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const name = input.value.trim()
    const problem = docNameProblem(name)
    showProblem(problem)
    if (problem) input.focus()
    else navigate(docPath(name))
  })
  return form
}

function renderDocItem(doc: DocSummary): HTMLLIElement {
  const edited = doc.updatedAt > 0 ? new Date(doc.updatedAt) : null
  return h(
    'li',
    { 'data-testid': 'doc-item', 'data-name': doc.name },
    h(
      'a',
      { href: docPath(doc.name), 'data-link': true, class: 'doc-link' },
      h('span', { class: 'doc-name' }, doc.name),
      h(
        'span',
        { class: 'doc-meta' },
        h(
          'time',
          { datetime: edited?.toISOString(), title: edited?.toLocaleString() },
          edited ? `Edited ${formatRelativeTime(doc.updatedAt)}` : 'Never edited',
        ),
        h('span', { class: 'doc-size' }, formatBytes(doc.bytes)),
      ),
    ),
  )
}
