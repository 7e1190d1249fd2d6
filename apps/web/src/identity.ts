/** How this browser's user appears to others: the name on their cursor and presence chip, and its colour. */
export interface Identity {
  name: string
  color: string
}

/** The colours a user can pick; the friendly default names borrow the colour's name ("Teal Heron"). */
export const palette: ReadonlyArray<{ name: string; color: string }> = [
  { name: 'Blue', color: '#3a7bd5' },
  { name: 'Teal', color: '#14958a' },
  { name: 'Green', color: '#3b9a5a' },
  { name: 'Amber', color: '#c27c14' },
  { name: 'Coral', color: '#dd5a4f' },
  { name: 'Rose', color: '#d14d86' },
  { name: 'Violet', color: '#8160c8' },
  { name: 'Slate', color: '#5b6b82' },
]

const animals = ['Heron', 'Otter', 'Fox', 'Wren', 'Lynx', 'Finch', 'Panda', 'Koala', 'Badger', 'Robin', 'Owl']

/** Longest name a user can give themselves, in characters. */
export const maxNameLength = 40

const storageKey = 'collab:identity'

/** A friendly random identity, such as `{ name: 'Teal Heron', color: '#14958a' }`. */
export function randomIdentity(random: () => number = Math.random): Identity {
  const colour = palette[Math.floor(random() * palette.length)] ?? palette[0]!
  const animal = animals[Math.floor(random() * animals.length)] ?? animals[0]!
  return { name: `${colour.name} ${animal}`, color: colour.color }
}

/** The identity remembered in this browser; a new random one (remembered from now on) the first time. */
export function loadIdentity(storage: Storage | null = safeLocalStorage()): Identity {
  const stored = readStored(storage)
  if (stored) return stored
  const identity = randomIdentity()
  saveIdentity(identity, storage)
  return identity
}

/** Remembers `identity` in this browser, for every document and the next visit. */
export function saveIdentity(identity: Identity, storage: Storage | null = safeLocalStorage()): void {
  try {
    storage?.setItem(storageKey, JSON.stringify(identity))
  } catch (err) {
    // Storage full or disabled: the identity still applies to this page, it is just not remembered.
    console.warn('could not remember the identity', err)
  }
}

function readStored(storage: Storage | null): Identity | null {
  const raw = storage?.getItem(storageKey)
  if (!raw) return null
  try {
    const { name, color } = JSON.parse(raw) as Partial<Record<keyof Identity, unknown>>
    if (typeof name !== 'string' || name.trim() === '' || typeof color !== 'string' || color === '') return null
    return { name: name.trim().slice(0, maxNameLength), color }
  } catch (err) {
    console.warn('ignoring an unreadable stored identity', err)
    return null
  }
}

// Reading `localStorage` itself throws when site data is blocked (Safari private mode, strict cookie settings).
function safeLocalStorage(): Storage | null {
  try {
    return window.localStorage
  } catch (err) {
    console.warn('localStorage is unavailable; the identity will not be remembered', err)
    return null
  }
}
