import type { Awareness } from 'y-protocols/awareness'

/** One person in a document, as seen through awareness (or an OT client's `presence` messages). */
export interface PresentUser {
  /**
   * The awareness client ID of their tab; one person in two tabs is two entries. In an OT editor the local tab,
   * which is not told its own ID, is -1.
   */
  clientId: number
  name: string
  color: string
  /** Whether this entry is the local tab. */
  isLocal: boolean
}

const fallbackColor = '#8a94a6'

/**
 * Everyone currently in the document, the local tab first, then by name. States without a `user` field
 * (a client that set none) still count, as "Anonymous", because they are still connected.
 */
export function presentUsers(awareness: Awareness): PresentUser[] {
  const users: PresentUser[] = []
  for (const [clientId, state] of awareness.getStates()) {
    const user = readUser(state)
    users.push({ clientId, ...user, isLocal: clientId === awareness.clientID })
  }
  return sortPresentUsers(users)
}

/**
 * Who is in a document, for an online list; the same shape for the Yjs and the OT editor
 * (`CollabEditor.presence`).
 */
export interface Presence {
  /** Everyone here now, the local tab first, then by name. */
  users(): PresentUser[]
  /**
   * Calls `listener` with {@link Presence.users} whenever someone arrives, leaves or changes their name or colour,
   * and once right away. Returns the function that unsubscribes.
   */
  onChange(listener: (users: PresentUser[]) => void): () => void
}

/** The {@link Presence} of a Yjs awareness. */
export function awarenessPresence(awareness: Awareness): Presence {
  return {
    users: () => presentUsers(awareness),
    onChange: (listener) => onPresenceChange(awareness, listener),
  }
}

/**
 * Calls `listener` with {@link presentUsers} whenever someone arrives, leaves or changes their name or colour,
 * and once right away. Returns the function that unsubscribes.
 */
export function onPresenceChange(awareness: Awareness, listener: (users: PresentUser[]) => void): () => void {
  // 'change' rather than 'update': 'update' also fires for the periodic keep-alive renewals of unchanged states.
  // A cursor move is a 'change' too (every remote keystroke moves one): the list only goes out when it differs.
  const forward = whenUsersChange(listener)
  const handleChange = () => forward(presentUsers(awareness))
  awareness.on('change', handleChange)
  handleChange()
  return () => awareness.off('change', handleChange)
}

/**
 * Wraps `listener` so that it only hears a list of users that differs from the last one it heard (who is here, their
 * names and colours): an online list then redraws when someone arrives, leaves or renames, not on every keystroke.
 */
export function whenUsersChange(listener: (users: PresentUser[]) => void): (users: PresentUser[]) => void {
  let last: string | null = null
  return (users) => {
    const key = JSON.stringify(users.map((user) => [user.clientId, user.name, user.color, user.isLocal]))
    if (key === last) return
    last = key
    listener(users)
  }
}

/** Orders a presence list as {@link presentUsers} does: the local tab first, then by name. */
export function sortPresentUsers(users: PresentUser[]): PresentUser[] {
  return users.sort(
    (a, b) => Number(b.isLocal) - Number(a.isLocal) || a.name.localeCompare(b.name) || a.clientId - b.clientId,
  )
}

/**
 * A display name and colour from a `user` value another client sent: nothing about its shape is guaranteed,
 * so anything unusable becomes "Anonymous" in grey.
 */
export function readUser(state: Record<string, unknown>): { name: string; color: string } {
  const user = state.user
  if (typeof user !== 'object' || user === null) return { name: 'Anonymous', color: fallbackColor }
  const { name, color } = user as Record<string, unknown>
  return {
    name: typeof name === 'string' && name.trim() !== '' ? name.trim().slice(0, 80) : 'Anonymous',
    color: typeof color === 'string' && color !== '' ? color : fallbackColor,
  }
}
