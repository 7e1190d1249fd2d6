import type { ProviderStatus } from '@collab/editor'
import { h } from './dom.js'
import { connectionLabel, type StatusLabel, saveLabel } from './status-labels.js'

/** The connection badge and the save state of the document header, updated together. */
export interface StatusIndicators {
  element: HTMLElement
  update(status: ProviderStatus): void
}

/** Creates the "● Connected · Saved" group of the header. */
export function createStatusIndicators(): StatusIndicators {
  const connection = h('span', { class: 'badge', 'data-testid': 'connection-status', role: 'status' })
  const save = h('span', { class: 'save-state', 'data-testid': 'save-status', 'aria-live': 'polite' })
  const element = h('div', { class: 'status-group' }, connection, save)
  return {
    element,
    update(status) {
      show(connection, connectionLabel(status))
      show(save, saveLabel(status))
    },
  }
}

function show(element: HTMLElement, label: StatusLabel): void {
  if (element.textContent !== label.text) element.textContent = label.text
  element.dataset.tone = label.tone
  if (label.title) element.title = label.title
  else element.removeAttribute('title')
}
