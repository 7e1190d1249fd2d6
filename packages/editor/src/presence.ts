import type { Awareness } from 'y-protocols/awareness'

/** One person in a document, as seen through awareness. */
export interface PresentUser {
  /** The Yjs client ID of their tab; one person in two tabs is two entries. */
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
  return users.sort(
    (a, b) => Number(b.isLocal) - Number(a.isLocal) || a.name.localeCompare(b.name) || a.clientId - b.clientId,
  )
}

/**
 * Calls `listener` with {@link presentUsers} whenever someone arrives, leaves or changes their name or colour,
 * and once right away. Returns the function that unsubscribes.
 */
export function onPresenceChange(awareness: Awareness, listener: (users: PresentUser[]) => void): () => void {
  // 'change' rather than 'update': 'update' also fires for the periodic keep-alive renewals of unchanged states.
  const handleChange = () => listener(presentUsers(awareness))
  awareness.on('change', handleChange)
  handleChange()
  return () => awareness.off('change', handleChange)
}

// Awareness states come from other clients over the network, so nothing about their shape is guaranteed.
function readUser(state: Record<string, unknown>): { name: string; color: string } {
  const user = state.user
  if (typeof user !== 'object' || user === null) return { name: 'Anonymous', color: fallbackColor }
  const { name, color } = user as Record<string, unknown>
  return {
    name: typeof name === 'string' && name.trim() !== '' ? name.trim().slice(0, 80) : 'Anonymous',
    color: typeof color === 'string' && color !== '' ? color : fallbackColor,
  }
}
