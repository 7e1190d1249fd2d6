import { h } from './dom.js'
import type { VersionSummary } from './history-api.js'
import { unknownAuthorColor } from './history-authors.js'
import { authorsLabel, dateTimeLabel, groupByDay, timeLabel, versionTitle } from './history-days.js'

/** What the list shows as selected: the live document, or one version by id. */
export type Selection = { kind: 'current' } | { kind: 'version'; id: string }

/** What the list needs to draw itself. */
export interface ListState {
  versions: readonly VersionSummary[]
  selection: Selection
  colors: ReadonlyMap<string, string>
  now: number
}

/**
 * The list of the history panel: "Current version" on top, then the versions grouped by day, each a button with
 * its time, name and authors. `onSelect` gets the choice; arrow keys move between the entries.
 */
export function createVersionList(onSelect: (selection: Selection) => void): {
  element: HTMLOListElement
  render(state: ListState): void
} {
  const element = h('ol', { class: 'history-list', 'data-testid': 'history-list', 'aria-label': 'Versions' })
  element.addEventListener('click', (event) => {
    const button = (event.target as Element | null)?.closest<HTMLButtonElement>('button.history-item')
    if (!button || !element.contains(button)) return
    const id = button.dataset.id
    onSelect(id === undefined ? { kind: 'current' } : { kind: 'version', id })
  })
  element.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return
    const buttons = [...element.querySelectorAll<HTMLButtonElement>('button.history-item')]
    const index = buttons.indexOf(document.activeElement as HTMLButtonElement)
    if (index === -1) return
    event.preventDefault()
    const next = buttons[Math.max(0, Math.min(buttons.length - 1, index + (event.key === 'ArrowDown' ? 1 : -1)))]
    next?.focus()
    next?.click()
  })

  const render = ({ versions, selection, colors, now }: ListState) => {
    // Keep the keyboard where it was across a refresh of the list.
    const focusedId = (document.activeElement as HTMLElement | null)?.closest('.history-list')
      ? ((document.activeElement as HTMLElement).dataset.id ?? 'current')
      : null
    const isSelected = (id: string | undefined) =>
      id === undefined ? selection.kind === 'current' : selection.kind === 'version' && selection.id === id
    const current = h(
      'li',
      { class: 'history-entry' },
      itemButton(undefined, isSelected(undefined), [
        h(
          'span',
          { class: 'history-item-head' },
          h('span', { class: 'history-item-title' }, 'Current version'),
          h('span', { class: 'history-live' }, 'Live'),
        ),
        h('span', { class: 'history-item-meta' }, 'The document as everyone edits it now'),
      ]),
    )
    const days = groupByDay(versions, now).map((day) =>
      h(
        'li',
        { class: 'history-day', 'data-testid': 'history-day' },
        h('h3', { class: 'history-day-label' }, day.label),
        h(
          'ol',
          { class: 'history-day-list' },
          ...day.versions.map((version) =>
            h('li', { class: 'history-entry' }, versionButton(version, isSelected(version.id), colors)),
          ),
        ),
      ),
    )
    element.replaceChildren(current, ...days)
    if (focusedId !== null) {
      const selector = focusedId === 'current' ? 'button.history-item:not([data-id])' : null
      const target = selector
        ? element.querySelector<HTMLButtonElement>(selector)
        : [...element.querySelectorAll<HTMLButtonElement>('button.history-item')].find(
            (button) => button.dataset.id === focusedId,
          )
      target?.focus()
    }
  }
  return { element, render }
}

function versionButton(version: VersionSummary, selected: boolean, colors: ReadonlyMap<string, string>) {
  const time = new Date(version.at)
  const head = h(
    'span',
    { class: 'history-item-head' },
    h(
      'time',
      { class: 'history-time', datetime: time.toISOString(), title: dateTimeLabel(version.at) },
      timeLabel(version.at),
    ),
    h(
      'span',
      {
        class: version.name === null ? 'history-item-title is-unnamed' : 'history-item-title',
        title: versionTitle(version),
      },
      versionTitle(version),
    ),
  )
  const authors = h(
    'span',
    { class: 'history-item-authors', title: version.authors.join(', ') },
    h(
      'span',
      { class: 'avatar-stack', 'aria-hidden': 'true' },
      ...version.authors.slice(0, 3).map((user) => authorAvatar(user, colors.get(user) ?? unknownAuthorColor)),
    ),
    h('span', { class: 'history-item-meta' }, authorsLabel(version.authors)),
  )
  const button = itemButton(version.id, selected, [head, authors])
  button.dataset.name = version.name ?? ''
  button.setAttribute(
    'aria-label',
    `${versionTitle(version)}, ${dateTimeLabel(version.at)}, ${authorsLabel(version.authors)}`,
  )
  return button
}

function itemButton(id: string | undefined, selected: boolean, children: HTMLElement[]): HTMLButtonElement {
  const button = h(
    'button',
    {
      type: 'button',
      class: 'history-item',
      'data-testid': id === undefined ? 'history-current' : 'history-item',
      'data-id': id,
      'aria-current': selected ? 'true' : null,
    },
    ...children,
  )
  return button
}

/** A round avatar with the user's initials in their author colour. */
export function authorAvatar(user: string, color: string): HTMLElement {
  const avatar = h('span', { class: 'avatar', title: user }, initialsOf(user))
  avatar.style.backgroundColor = color
  return avatar
}

/** "ada.lovelace" -> "AL", "Teal Heron" -> "TH", "dev" -> "D". */
function initialsOf(user: string): string {
  const words = user.split(/[\s._@-]+/).filter(Boolean)
  const letters = words.slice(0, 2).map((word) => [...word][0] ?? '')
  return letters.join('').toUpperCase() || '?'
}
