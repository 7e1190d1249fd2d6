import { lightColor } from '@collab/ot'

export { lightColor }

/** Who is typing: shown on the remote cursor label and in presence lists. */
export interface CollabUser {
  /** Display name, shown on this user's cursor for everyone else. */
  name: string
  /** CSS colour of this user's cursor and name label, e.g. `#2f80ed`. */
  color: string
}

/**
 * The awareness field `user` as y-codemirror.next reads it: `colorLight` is the background of this user's
 * selection as others see it.
 */
export interface AwarenessUser extends CollabUser {
  colorLight: string
}

/** Turns a {@link CollabUser} into the awareness `user` field, deriving the translucent selection colour. */
export function toAwarenessUser(user: CollabUser): AwarenessUser {
  if (typeof user.name !== 'string' || user.name.trim() === '') {
    throw new RangeError(`Invalid user name ${JSON.stringify(user.name)}: expected a non-empty string`)
  }
  if (typeof user.color !== 'string' || user.color.trim() === '') {
    throw new RangeError(`Invalid user colour ${JSON.stringify(user.color)}: expected a CSS colour`)
  }
  return { name: user.name.trim(), color: user.color, colorLight: lightColor(user.color) }
}
