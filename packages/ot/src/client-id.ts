import { digest } from 'lib0/hash/sha256'
import { getRandomValues } from 'lib0/webcrypto'

/** What {@link newSecret} returns: 128 bits as 32 lowercase hex digits. */
const secretShape = /^[0-9a-f]{32}$/

/**
 * A new client secret ([OT7]): 128 random bits as 32 hex digits. The client keeps it and presents it in its next
 * `join`, which is how it gets its client ID back after a reconnect.
 */
export function newSecret(): string {
  return toHex(getRandomValues(new Uint8Array(16)))
}

/**
 * The client ID that belongs to `secret` ([OT7]): the first 16 hex digits of its SHA-256. Deriving the ID instead
 * of storing it means a reconnecting client gets its old ID back (so its resent pushes are recognised, [OT4])
 * without the server remembering anything, and nobody can claim an ID without knowing its secret.
 * Throws a RangeError for a string that is not of {@link newSecret}'s shape, so that callers check untrusted
 * secrets (and send a new one) instead of hashing whatever arrives.
 */
export function clientIdForSecret(secret: string): string {
  if (!isSecret(secret))
    throw new RangeError(`Not a client secret: expected 32 hex digits, got ${String(secret).length} characters`)
  return toHex(digest(new TextEncoder().encode(secret))).slice(0, 16)
}

/** Whether `value` has the shape of a secret {@link newSecret} made, so {@link clientIdForSecret} accepts it. */
export function isSecret(value: unknown): value is string {
  return typeof value === 'string' && secretShape.test(value)
}

function toHex(bytes: Uint8Array): string {
  let hex = ''
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0')
  return hex
}
