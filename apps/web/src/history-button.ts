import { h } from './dom.js'

/** The header button that opens and closes the version history panel (its `aria-expanded` follows the panel). */
export function createHistoryButton(): HTMLButtonElement {
  return h(
    'button',
    {
      type: 'button',
      class: 'button',
      'data-testid': 'history-toggle',
      'aria-expanded': 'false',
      'aria-controls': 'history-panel',
      title: 'Version history',
    },
    clockIcon(),
    'History',
  )
}

function clockIcon(): SVGSVGElement {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg')
  svg.setAttribute('viewBox', '0 0 16 16')
  svg.setAttribute('aria-hidden', 'true')
  svg.setAttribute('class', 'button-icon')
  // Static markup, no user input: a clock with an arrow going back, the usual sign for history.
  svg.innerHTML =
    '<path d="M2.5 8a5.5 5.5 0 1 0 1.6-3.9" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round"/>' +
    '<path d="M2 2.5v2.6h2.6" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round"/>' +
    '<path d="M8 5v3.2l2.2 1.4" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round"/>'
  return svg
}
