import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { clientAddress, hostAllowed, originAllowed, parseTrustedProxies } from '../src/request-policy.js'

// The request policy as pure functions ([SD1], [SD2], [OR1], [PX1] in docs/SECURITY.md); the app server's tests
// check the same rules against a real server.

/** The parts of a request `clientAddress` reads. */
function request(remoteAddress: string | undefined, forwardedFor?: string | string[]): IncomingMessage {
  return {
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  } as unknown as IncomingMessage
}

describe('[SD1] hostAllowed', () => {
  it('allows loopback names and every IP literal, with or without a port', () => {
    for (const host of [
      'localhost',
      'localhost:1234',
      'LOCALHOST.',
      'app.localhost:5173',
      '127.0.0.1',
      '127.1.2.3:80',
      '[::1]:1234',
      '[::1]',
      '::1',
      '192.168.1.20:8080',
      '203.0.113.7',
      '[2001:db8::1]:443',
    ]) {
      expect(hostAllowed(host, []), host).toBe(true)
    }
  })

  it('refuses any other name unless it is configured, ignoring case, port and a trailing dot', () => {
    expect(hostAllowed('evil.example', [])).toBe(false)
    expect(hostAllowed('localhost.evil.example', [])).toBe(false)
    expect(hostAllowed('collab.example.com', ['collab.example.com'])).toBe(true)
    expect(hostAllowed('Collab.Example.com.:8443', ['collab.example.com'])).toBe(true)
    expect(hostAllowed('www.collab.example.com', ['collab.example.com'])).toBe(false)
    expect(hostAllowed('notcollab.example.com', ['collab.example.com'])).toBe(false)
  })

  it('a leading dot allows the domain and its subdomains, not names that merely end alike', () => {
    const allowed = ['.example.com']
    expect(hostAllowed('example.com', allowed)).toBe(true)
    expect(hostAllowed('a.b.example.com:80', allowed)).toBe(true)
    expect(hostAllowed('badexample.com', allowed)).toBe(false)
    expect(hostAllowed('example.com.evil.org', allowed)).toBe(false)
  })

  it('`*` allows every host', () => {
    expect(hostAllowed('anything.example', ['*'])).toBe(true)
  })

  it('refuses values that are not a host, and passes a request without Host (no browser sends one)', () => {
    for (const host of ['', 'a b', 'user@localhost', 'localhost/x', '[127.0.0.1]', '[::1', 'localhost:99999']) {
      expect(hostAllowed(host, []), host).toBe(false)
    }
    expect(hostAllowed(undefined, [])).toBe(true)
  })
})

describe('[SD2] [OR1] originAllowed', () => {
  it('passes requests without Origin, allowlist or not', () => {
    expect(originAllowed(undefined, 'localhost:1234', null)).toBe(true)
    expect(originAllowed(undefined, 'localhost:1234', new Set(['https://app.example']))).toBe(true)
  })

  it('with an allowlist, exactly the listed origins, loopback or not', () => {
    const allowed = new Set(['https://app.example', 'http://localhost:5173'])
    expect(originAllowed('https://app.example', 'collab.example', allowed)).toBe(true)
    expect(originAllowed('http://localhost:5173', 'localhost:1234', allowed)).toBe(true)
    expect(originAllowed('http://localhost:3000', 'localhost:1234', allowed)).toBe(false)
    expect(originAllowed('https://collab.example', 'collab.example', allowed)).toBe(false)
  })

  it('without one, loopback origins on any port', () => {
    for (const origin of [
      'http://localhost:5173',
      'https://localhost',
      'http://app.localhost:3000',
      'http://127.0.0.1:8080',
      'http://127.9.9.9',
      'http://[::1]:1234',
    ]) {
      expect(originAllowed(origin, 'collab.example', null), origin).toBe(true)
    }
  })

  it('without one, the same origin: host and port equal to the Host header', () => {
    expect(originAllowed('https://collab.example', 'collab.example', null)).toBe(true)
    expect(originAllowed('http://collab.example', 'collab.example', null)).toBe(true)
    expect(originAllowed('https://collab.example', 'collab.example:443', null)).toBe(true)
    expect(originAllowed('http://collab.example:8080', 'Collab.Example:8080', null)).toBe(true)
    expect(originAllowed('http://192.168.1.20:1234', '192.168.1.20:1234', null)).toBe(true)
    // Another port is another origin.
    expect(originAllowed('http://collab.example:8080', 'collab.example', null)).toBe(false)
    expect(originAllowed('http://collab.example:8080', 'collab.example:9090', null)).toBe(false)
    expect(originAllowed('https://collab.example', 'collab.example:80', null)).toBe(false)
  })

  it('without one, refuses every other site, opaque origins and other schemes', () => {
    expect(originAllowed('https://evil.example', 'localhost:1234', null)).toBe(false)
    expect(originAllowed('https://evil.example', 'evil.example.collab.example', null)).toBe(false)
    expect(originAllowed('http://localhost.evil.example', 'localhost:1234', null)).toBe(false)
    expect(originAllowed('null', 'localhost:1234', null)).toBe(false)
    expect(originAllowed('chrome-extension://abcdef', 'localhost:1234', null)).toBe(false)
    expect(originAllowed('https://collab.example', undefined, null)).toBe(false)
    expect(originAllowed('', 'localhost:1234', null)).toBe(false)
  })
})

describe('[PX1] trusted proxies', () => {
  it('parses addresses and CIDR ranges of both families', () => {
    const trusted = parseTrustedProxies(['10.0.0.0/8', ' 192.168.1.1 ', 'fd00::/8', '::1'])
    expect(trusted.check('10.20.30.40', 'ipv4')).toBe(true)
    expect(trusted.check('192.168.1.1', 'ipv4')).toBe(true)
    expect(trusted.check('192.168.1.2', 'ipv4')).toBe(false)
    expect(trusted.check('fd12::5', 'ipv6')).toBe(true)
    expect(trusted.check('::1', 'ipv6')).toBe(true)
  })

  it('throws RangeError naming the bad entry', () => {
    for (const bad of ['true', 'proxy.internal', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/8/8', '::/129', '1.2.3']) {
      expect(() => parseTrustedProxies(['127.0.0.1', bad]), bad).toThrow(RangeError)
      expect(() => parseTrustedProxies([bad]), bad).toThrow(JSON.stringify(bad))
    }
  })

  it('without trusted proxies the peer address is the client, whatever X-Forwarded-For says', () => {
    expect(clientAddress(request('198.51.100.1', '203.0.113.9'), null)).toBe('198.51.100.1')
    expect(clientAddress(request(undefined), null)).toBe('unknown')
  })

  it('X-Forwarded-For counts only when the peer is a trusted proxy', () => {
    const trusted = parseTrustedProxies(['10.0.0.2'])
    expect(clientAddress(request('10.0.0.2', '203.0.113.9'), trusted)).toBe('203.0.113.9')
    expect(clientAddress(request('198.51.100.1', '203.0.113.9'), trusted)).toBe('198.51.100.1')
    // IPv4-mapped IPv6, as a dual-stack socket reports the peer.
    expect(clientAddress(request('::ffff:10.0.0.2', '203.0.113.9'), trusted)).toBe('203.0.113.9')
  })

  it('takes the rightmost entry that is not a trusted proxy, so a forged left part changes nothing', () => {
    const trusted = parseTrustedProxies(['10.0.0.0/8'])
    expect(clientAddress(request('10.0.0.2', '1.1.1.1, 203.0.113.9, 10.0.0.7'), trusted)).toBe('203.0.113.9')
    expect(clientAddress(request('10.0.0.2', ['1.1.1.1', '203.0.113.9']), trusted)).toBe('203.0.113.9')
    // Every hop trusted: the leftmost is the client.
    expect(clientAddress(request('10.0.0.2', '10.1.1.1, 10.0.0.7'), trusted)).toBe('10.1.1.1')
    expect(clientAddress(request('10.0.0.2', '[2001:db8::5]:443'), trusted)).toBe('2001:db8::5')
    expect(clientAddress(request('10.0.0.2', '203.0.113.9:5555'), trusted)).toBe('203.0.113.9')
    // No header at all: the proxy itself.
    expect(clientAddress(request('10.0.0.2'), trusted)).toBe('10.0.0.2')
  })

  it('an entry that is not an address stops at the last hop a trusted proxy vouched for', () => {
    const trusted = parseTrustedProxies(['10.0.0.0/8'])
    expect(clientAddress(request('10.0.0.2', 'anything-goes'), trusted)).toBe('10.0.0.2')
    expect(clientAddress(request('10.0.0.2', '203.0.113.9, junk, 10.0.0.7'), trusted)).toBe('10.0.0.7')
  })
})
