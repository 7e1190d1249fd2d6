import type { Presence, PresentUser } from '@collab/editor'
import { h } from './dom.js'

/** What the document page needs from the presence bar. */
export interface PresenceBar {
  element: HTMLElement
  dispose(): void
}

/**
 * Everyone in the document as coloured chips with their names, the local user first, and how many people are
 * here. The local chip is a button: clicking it calls `onEditSelf` with the chip, to change name and colour.
 */
export function createPresenceBar(presence: Presence, onEditSelf: (anchor: HTMLElement) => void): PresenceBar {
  const list = h('ul', { class: 'presence-list', 'data-testid': 'presence-list', 'aria-label': 'People here' })
  const count = h('span', { class: 'presence-count', 'data-testid': 'presence-count', 'aria-live': 'polite' })
  const element = h('div', { class: 'presence' }, list, count)

  const render = (users: PresentUser[]) => {
    list.replaceChildren(...users.map((user) => renderChip(user, onEditSelf)))
    count.textContent = users.length <= 1 ? 'Just you' : `${users.length} people here`
  }
  const unsubscribe = presence.onChange(render)
  return { element, dispose: unsubscribe }
}

function renderChip(user: PresentUser, onEditSelf: (anchor: HTMLElement) => void): HTMLElement {
  const avatar = h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(user.name))
  // Colours come from other clients: set through the CSSOM, which ignores anything that is not a colour.
  avatar.style.backgroundColor = user.color
  const item = h('li', {
    class: user.isLocal ? 'presence-item is-local' : 'presence-item',
    'data-testid': 'presence-item',
    'data-name': user.name,
  })
  item.style.setProperty('--user-color', user.color)
  if (!user.isLocal) {
    item.append(avatar, h('span', { class: 'presence-name' }, user.name))
    item.title = user.name
    return item
  }
  const chip = h(
    'button',
    { type: 'button', class: 'presence-chip', title: 'Change your name and colour', 'aria-haspopup': 'dialog' },
    avatar,
    h('span', { class: 'presence-name', 'data-testid': 'user-name' }, user.name),
    h('span', { class: 'presence-you' }, 'you'),
  )
  chip.addEventListener('click', () => onEditSelf(chip))
  item.append(chip)
  return item
}

/** "Teal Heron" -> "TH", "ada" -> "A". */
function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean)
  const letters = words.slice(0, 2).map((word) => [...word][0] ?? '')
  return letters.join('').toUpperCase() || '?'
}
