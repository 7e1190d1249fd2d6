import {
  clearLocalData,
  discardRecoveredCopy,
  type LocalDocumentInfo,
  listLocalDocuments,
  type RecoveredText,
  recoveredTexts,
} from '@collab/editor'
import { h } from './dom.js'
import { formatBytes, formatRelativeTime } from './format.js'
import { docPath } from './router.js'

/**
 * The home page's "On this device" card: the documents this browser keeps a copy of, which open without a
 * network, each with a button that removes the copy. Hidden while there are none.
 */
export function createOfflineDocsCard(): { element: HTMLElement; dispose(): void } {
  const list = h('ul', { class: 'doc-list', 'data-testid': 'offline-doc-list' })
  const element = h(
    'section',
    { class: 'card docs-card', 'aria-labelledby': 'offline-docs-heading', hidden: true },
    h('h2', { id: 'offline-docs-heading' }, 'On this device'),
    h(
      'p',
      { class: 'list-state' },
      'These documents open without a network. Edits made offline are sent when the server is reachable again.',
    ),
    list,
  )
  let disposed = false
  const render = (docs: LocalDocumentInfo[]) => {
    if (disposed) return
    list.replaceChildren(...docs.map((doc) => renderItem(doc, remove)))
    element.hidden = docs.length === 0
  }
  const refresh = () =>
    listLocalDocuments().then(render, (err: unknown) => {
      // Private modes refuse IndexedDB: nothing is kept on this device, so there is nothing to list.
      console.warn('listing the documents kept on this device failed', err)
    })
  const remove = (name: string) => {
    const ask = `Remove the copy of “${name}” from this device? Edits not yet saved on the server are lost.`
    if (!confirm(ask)) return
    clearLocalData([name]).then(refresh, (err: unknown) => console.error('removing the local copy failed', err))
  }
  void refresh()
  return {
    element,
    dispose() {
      disposed = true
    },
  }
}

function renderItem(doc: LocalDocumentInfo, remove: (name: string) => void): HTMLLIElement {
  const button = h(
    'button',
    { type: 'button', class: 'button small', 'data-testid': 'remove-offline-doc', title: 'Remove from this device' },
    'Remove',
  )
  button.addEventListener('click', () => remove(doc.name))
  return h(
    'li',
    { class: 'offline-doc', 'data-testid': 'offline-doc-item', 'data-name': doc.name },
    h(
      'a',
      { href: docPath(doc.name), 'data-link': true, class: 'doc-link' },
      h('span', { class: 'doc-name' }, doc.name),
      h(
        'span',
        { class: 'doc-meta' },
        h('span', {}, `Changed here ${formatRelativeTime(doc.updatedAt)}`),
        h('span', { class: 'doc-size' }, formatBytes(doc.bytes)),
      ),
    ),
    button,
  )
}

/**
 * The home page's "Recovered copies" card: documents the server deleted while this browser held edits of them
 * (issue 16, [DL2]). Each can be downloaded as a text file or discarded. Hidden while there are none.
 */
export function createRecoveredCopiesCard(): { element: HTMLElement; dispose(): void } {
  const list = h('ul', { class: 'doc-list', 'data-testid': 'recovered-list' })
  const element = h(
    'section',
    { class: 'card docs-card', 'aria-labelledby': 'recovered-heading', hidden: true },
    h('h2', { id: 'recovered-heading' }, 'Recovered copies'),
    h(
      'p',
      { class: 'list-state' },
      'These documents were deleted on the server while this device held edits of them. Download the text to keep it.',
    ),
    list,
  )
  let disposed = false
  const urls: string[] = []
  const render = (copies: RecoveredText[]) => {
    if (disposed) return
    for (const url of urls.splice(0)) URL.revokeObjectURL(url)
    list.replaceChildren(...copies.map((copy) => renderCopy(copy, urls, discard)))
    element.hidden = copies.length === 0
  }
  const refresh = () =>
    recoveredTexts().then(render, (err: unknown) => console.warn('listing the recovered copies failed', err))
  const discard = (id: number, name: string) => {
    if (!confirm(`Discard the recovered copy of “${name}”? Its text is gone for good.`)) return
    discardRecoveredCopy(id).then(refresh, (err: unknown) => console.error('discarding the copy failed', err))
  }
  void refresh()
  return {
    element,
    dispose() {
      disposed = true
      for (const url of urls.splice(0)) URL.revokeObjectURL(url)
    },
  }
}

function renderCopy(copy: RecoveredText, urls: string[], discard: (id: number, name: string) => void): HTMLLIElement {
  const url = URL.createObjectURL(new Blob([copy.text], { type: 'text/plain;charset=utf-8' }))
  urls.push(url)
  const download = h(
    'a',
    {
      class: 'button small',
      href: url,
      download: `${copy.name.replaceAll('/', '-')}.txt`,
      'data-testid': 'download-recovered',
    },
    'Download',
  )
  const discardButton = h(
    'button',
    { type: 'button', class: 'button small', 'data-testid': 'discard-recovered' },
    'Discard',
  )
  discardButton.addEventListener('click', () => discard(copy.id, copy.name))
  return h(
    'li',
    { class: 'offline-doc', 'data-testid': 'recovered-item', 'data-name': copy.name },
    h(
      'div',
      { class: 'doc-link' },
      h('span', { class: 'doc-name' }, copy.name),
      h('span', { class: 'doc-meta' }, h('span', {}, `Kept ${formatRelativeTime(copy.savedAt)}`)),
    ),
    download,
    discardButton,
  )
}
