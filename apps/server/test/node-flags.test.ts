import { describe, expect, it } from 'vitest'
import { missingNodeFlags, serverNodeFlags } from '../src/node-flags.js'

describe('the Node.js flags the server is meant to run with', () => {
  it('are missing unless given on the command line or in NODE_OPTIONS, whatever value the operator chose', () => {
    expect(serverNodeFlags).toContain('--max-semi-space-size=32')
    expect(missingNodeFlags([], undefined)).toEqual(serverNodeFlags)
    expect(missingNodeFlags(['--enable-source-maps'], '--max-old-space-size=4096')).toEqual(serverNodeFlags)
    expect(missingNodeFlags([...serverNodeFlags], undefined)).toEqual([])
    expect(missingNodeFlags([], ` ${serverNodeFlags.join(' ')} `)).toEqual([])
    // Another size is a choice, not a missing flag; V8 reads `_` like `-`.
    expect(missingNodeFlags(['--max_semi_space_size=64'], undefined)).toEqual([])
  })
})
