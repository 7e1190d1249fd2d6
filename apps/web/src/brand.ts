import { h } from './dom.js'

/** The app's mark, a link to the document list. `withName` adds the word "Collab" beside it. */
export function brandMark(withName = false): HTMLAnchorElement {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg')
  svg.setAttribute('viewBox', '0 0 32 32')
  svg.setAttribute('aria-hidden', 'true')
  // Static markup, no user input.
  svg.innerHTML =
    '<rect width="32" height="32" rx="8" fill="currentColor"/>' +
    '<path d="M10 11h12M10 16h12M10 21h7" stroke="white" stroke-width="2.5" stroke-linecap="round"/>'
  return h(
    'a',
    { href: '/', 'data-link': true, class: 'brand', title: 'All documents', 'aria-label': 'All documents' },
    svg,
    withName && h('span', { class: 'brand-name' }, 'Collab'),
  )
}
