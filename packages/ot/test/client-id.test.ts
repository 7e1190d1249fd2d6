import { describe, expect, it } from 'vitest'
import { clientIdForSecret, isSecret, newSecret } from '../src/index.js'

describe('[OT7] client IDs', () => {
  it('makes 128-bit hex secrets that differ', () => {
    const secrets = new Set(Array.from({ length: 100 }, () => newSecret()))
    expect(secrets.size).toBe(100)
    for (const secret of secrets) expect(secret).toMatch(/^[0-9a-f]{32}$/)
  })

  it('derives the same 16-hex-digit ID from the same secret, and different ones from different secrets', () => {
    const secret = newSecret()
    expect(clientIdForSecret(secret)).toBe(clientIdForSecret(secret))
    expect(clientIdForSecret(secret)).toMatch(/^[0-9a-f]{16}$/)
    expect(clientIdForSecret(newSecret())).not.toBe(clientIdForSecret(secret))
  })

  it('is SHA-256 of the secret, so other implementations agree', () => {
    // sha256("00000000000000000000000000000000") computed independently (node:crypto).
    expect(clientIdForSecret('0'.repeat(32))).toBe('84e0c0eafaa95a34')
  })

  it.each(['', 'x'.repeat(32), '0'.repeat(31), '0'.repeat(33), 'ABCDEF0123456789ABCDEF0123456789'])(
    'refuses %j with a RangeError',
    (secret) => {
      expect(isSecret(secret)).toBe(false)
      expect(() => clientIdForSecret(secret)).toThrow(RangeError)
    },
  )
})
