import { describe, expect, it } from 'vitest'
import {
  encodeMessage,
  type OtClientMessage,
  type OtServerMessage,
  otLimits,
  parseClientMessage,
  parseServerMessage,
} from '../src/index.js'

const clientMessages: OtClientMessage[] = [
  { t: 'join', epoch: null, version: null, secret: null },
  { t: 'join', epoch: 'e1', version: 12, secret: '0123456789abcdef0123456789abcdef' },
  { t: 'push', version: 3, updates: [{ changes: [1, [0, 'a', 'b'], 2] }, { changes: [[1]] }] },
  { t: 'presence', version: 0, user: { name: 'Ann', color: '#f00' }, selection: { anchor: 1, head: 4 } },
  { t: 'presence', version: 9, user: { name: '', color: '' }, selection: null },
]

const serverMessages: OtServerMessage[] = [
  { t: 'welcome', clientID: 'abc', secret: 's', epoch: 'e', version: 4, applied: 2, doc: 'hello\nworld' },
  {
    t: 'welcome',
    clientID: 'abc',
    secret: 's',
    epoch: 'e',
    version: 4,
    applied: 0,
    updates: [{ clientID: 'yjs', changes: [3] }],
  },
  { t: 'updates', version: 7, updates: [{ clientID: 'x', changes: [[0, '😀'], 2] }] },
  {
    t: 'presence',
    version: 2,
    peers: [
      { id: 5, user: { name: 'B', color: '#00f', colorLight: '#00f3' }, selection: null },
      { id: 6, user: null, selection: { anchor: 0, head: 0 } },
    ],
  },
]

describe('[OT2] messages', () => {
  it.each(clientMessages)('round-trips client message %j', (message) => {
    expect(parseClientMessage(encodeMessage(message))).toEqual({ ok: true, message })
  })

  it.each(serverMessages)('round-trips server message %j', (message) => {
    expect(parseServerMessage(encodeMessage(message))).toEqual({ ok: true, message })
  })

  it('drops fields a message does not have', () => {
    const parsed = parseClientMessage('{"t":"push","version":0,"updates":[{"changes":[],"origin":{}}],"x":1}')
    expect(parsed).toEqual({ ok: true, message: { t: 'push', version: 0, updates: [{ changes: [] }] } })
  })

  const hostileClient: Array<[string, string]> = [
    ['not JSON', '{"t":'],
    ['a number', '42'],
    ['null', 'null'],
    ['an array', '[{"t":"join"}]'],
    ['an unknown type', '{"t":"hello"}'],
    ['a missing type', '{}'],
    ['a string version', '{"t":"push","version":"1","updates":[]}'],
    ['a negative version', '{"t":"push","version":-1,"updates":[]}'],
    ['a fractional version', '{"t":"push","version":1.5,"updates":[]}'],
    ['an unsafe version', '{"t":"push","version":1e300,"updates":[]}'],
    ['updates not an array', '{"t":"push","version":1,"updates":{}}'],
    ['an update without changes', '{"t":"push","version":1,"updates":[{}]}'],
    ['an update that is not an object', '{"t":"push","version":1,"updates":[[1]]}'],
    [
      'too many updates',
      JSON.stringify({ t: 'push', version: 0, updates: Array(otLimits.maxUpdatesPerPush + 1).fill({ changes: [] }) }),
    ],
    [
      'deep nesting inside changes',
      `{"t":"push","version":0,"updates":[{"changes":[[1,${'['.repeat(10)}${']'.repeat(10)}]]}]}`,
    ],
    ['very deep nesting', '['.repeat(100_000)],
    ['a join with epoch but no version', '{"t":"join","epoch":"e","version":null,"secret":null}'],
    ['a join with a number secret', '{"t":"join","epoch":null,"version":null,"secret":5}'],
    ['a join with missing fields', '{"t":"join"}'],
    [
      'a long name',
      JSON.stringify({ t: 'presence', version: 0, user: { name: 'x'.repeat(257), color: '' }, selection: null }),
    ],
    [
      'a selection with a negative head',
      '{"t":"presence","version":0,"user":{"name":"","color":""},"selection":{"anchor":0,"head":-1}}',
    ],
    ['a presence without user', '{"t":"presence","version":0,"selection":null}'],
  ]
  it.each(hostileClient)('refuses a client message with %s, without throwing', (_what, json) => {
    const parsed = parseClientMessage(json)
    expect(parsed.ok).toBe(false)
    if (!parsed.ok) expect(parsed.error).toMatch(/\w/)
  })

  it('accepts the deepest valid push (ChangeSet JSON nested inside the envelope)', () => {
    expect(parseClientMessage('{"t":"push","version":0,"updates":[{"changes":[[0,"a"]]}]}').ok).toBe(true)
    expect(parseClientMessage('{"t":"push","version":0,"updates":[{"changes":[[[0]]]}]}').ok).toBe(false)
  })

  it('does not count brackets inside strings as nesting', () => {
    const name = '[[[[[[[[{{{{{{\\"'
    expect(
      parseClientMessage(`{"t":"presence","version":0,"user":{"name":"${name}","color":""},"selection":null}`),
    ).toEqual({
      ok: true,
      message: { t: 'presence', version: 0, user: { name: '[[[[[[[[{{{{{{"', color: '' }, selection: null },
    })
  })

  const hostileServer: Array<[string, string]> = [
    [
      'a welcome with both doc and updates',
      '{"t":"welcome","clientID":"a","secret":"s","epoch":"e","version":0,"applied":0,"doc":"","updates":[]}',
    ],
    ['a welcome with neither', '{"t":"welcome","clientID":"a","secret":"s","epoch":"e","version":0,"applied":0}'],
    [
      'a welcome with a number doc',
      '{"t":"welcome","clientID":"a","secret":"s","epoch":"e","version":0,"applied":0,"doc":1}',
    ],
    ['a welcome without applied', '{"t":"welcome","clientID":"a","secret":"s","epoch":"e","version":0,"doc":""}'],
    [
      'a welcome with a negative applied',
      '{"t":"welcome","clientID":"a","secret":"s","epoch":"e","version":0,"applied":-1,"doc":""}',
    ],
    [
      'a welcome with a fractional applied',
      '{"t":"welcome","clientID":"a","secret":"s","epoch":"e","version":0,"applied":0.5,"updates":[]}',
    ],
    ['an entry without clientID', '{"t":"updates","version":0,"updates":[{"changes":[]}]}'],
    ['a peer with a fractional id', '{"t":"presence","version":0,"peers":[{"id":0.5,"user":null,"selection":null}]}'],
    [
      'a peer user without colorLight',
      '{"t":"presence","version":0,"peers":[{"id":1,"user":{"name":"","color":""},"selection":null}]}',
    ],
    ['a client message', '{"t":"join","epoch":null,"version":null,"secret":null}'],
  ]
  it.each(hostileServer)('refuses a server message with %s', (_what, json) => {
    expect(parseServerMessage(json).ok).toBe(false)
  })
})
