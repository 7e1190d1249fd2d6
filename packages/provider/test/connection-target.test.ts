import { describe, expect, it } from 'vitest'
import { connectionTarget } from '../src/connection-target.js'

describe('connectionTarget', () => {
  it('puts the encoded document name after the server URL, without doubling a trailing slash', () => {
    expect(connectionTarget('ws://host:1234/', 'a b/c', undefined)).toEqual({
      url: 'ws://host:1234/a%20b%2Fc',
      protocols: [],
    })
  })

  it('[AU1] offers a token as the `token.<t>` subprotocol beside `collab`', () => {
    expect(connectionTarget('wss://host', 'doc', 'plain.jwt-like_token~1')).toEqual({
      url: 'wss://host/doc',
      protocols: ['collab', 'token.plain.jwt-like_token~1'],
    })
  })

  it('[AU1] sends a token a subprotocol cannot hold as the `token` query parameter', () => {
    expect(connectionTarget('wss://host', 'doc', 'needs escaping/+=')).toEqual({
      url: 'wss://host/doc?token=needs%20escaping%2F%2B%3D',
      protocols: [],
    })
  })

  it('[OT1] adds query parameters such as sync=ot, beside a token that needs the query too', () => {
    expect(connectionTarget('ws://host', 'doc', undefined, { sync: 'ot' }).url).toBe('ws://host/doc?sync=ot')
    expect(connectionTarget('ws://host', 'doc', 'a b', { sync: 'ot' }).url).toBe('ws://host/doc?sync=ot&token=a%20b')
    expect(connectionTarget('ws://host', 'doc', 'plain', { sync: 'ot' })).toEqual({
      url: 'ws://host/doc?sync=ot',
      protocols: ['collab', 'token.plain'],
    })
  })
})
