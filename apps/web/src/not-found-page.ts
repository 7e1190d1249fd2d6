import { h } from './dom.js'

/** The page for a path that is neither home nor a document. */
export function mountNotFoundPage(root: HTMLElement): () => void {
  document.title = 'Not found · Collab'
  root.append(
    h(
      'main',
      { class: 'message-page' },
      h('h1', {}, 'Nothing here'),
      h('p', {}, 'This address does not lead to a page or a document.'),
      h('a', { href: '/', 'data-link': true, class: 'button' }, 'All documents'),
    ),
  )
  return () => {}
}
