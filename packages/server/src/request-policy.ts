import type { IncomingMessage } from 'node:http'
import { BlockList, isIP } from 'node:net'

// Which requests may reach the server at all, and who sent them: the Host and Origin checks that keep other web
// pages out ([SD1], [SD2] in docs/SECURITY.md) and the client address behind trusted proxies ([PX1]). Pure
// functions of the request's headers and the configuration, so the engine and the app server decide alike.

/** Loopback addresses: 127.0.0.0/8 and ::1 (BlockList also matches their IPv4-mapped IPv6 forms). */
const loopback = new BlockList()
loopback.addSubnet('127.0.0.0', 8, 'ipv4')
loopback.addAddress('::1', 'ipv6')

/** A `Host` header (or the host of an origin) split into a lower-case name without trailing dot, and its port. */
interface HostAndPort {
  hostname: string
  /** `null` when the value names no port. */
  port: number | null
}

/** `name`, `name:port`, `[v6]` or `[v6]:port`; anything else (userinfo, paths, spaces) is not a host. */
const hostPattern = /^(?:\[([0-9a-f:.]+)\]|([^\s:[\]/@\\?#]+))(?::(\d{1,5}))?$/i

function parseHost(value: string): HostAndPort | null {
  const trimmed = value.trim()
  // A bare IPv6 address is not a valid Host header, but it names no DNS name either.
  if (isIP(trimmed) === 6) return { hostname: trimmed.toLowerCase(), port: null }
  const match = hostPattern.exec(trimmed)
  if (!match) return null
  const [, bracketed, name, port] = match
  if (bracketed !== undefined && isIP(bracketed) !== 6) return null
  const hostname = (bracketed ?? name ?? '').toLowerCase().replace(/\.$/, '')
  const portNumber = port === undefined ? null : Number(port)
  if (hostname === '' || (portNumber !== null && portNumber > 65535)) return null
  return { hostname, port: portNumber }
}

function isLoopbackName(hostname: string): boolean {
  // RFC 6761: `localhost` and every name under it resolve to loopback; browsers do not ask DNS for them.
  return hostname === 'localhost' || hostname.endsWith('.localhost')
}

function isLoopbackAddress(hostname: string): boolean {
  const family = isIP(hostname)
  return family !== 0 && loopback.check(hostname, family === 6 ? 'ipv6' : 'ipv4')
}

/**
 * Whether the `Host` header names this server ([SD1]): a loopback name (`localhost`, `*.localhost`), any IP literal,
 * or a name on `allowedHosts`. An entry with a leading dot (`.example.com`) allows that domain and its subdomains;
 * `*` allows any host (which gives up the protection). A request without `Host` passes: browsers always send one,
 * and only a browser can be turned against the server by DNS rebinding.
 *
 * DNS rebinding makes a page of an attacker's name talk to this server through the visitor's browser, but its
 * requests still carry the attacker's name as `Host`, and an IP literal cannot be rebound: that is what is checked.
 */
export function hostAllowed(host: string | undefined, allowedHosts: readonly string[]): boolean {
  if (host === undefined) return true
  const parsed = parseHost(host)
  if (parsed === null) return false
  const { hostname } = parsed
  if (isIP(hostname) !== 0 || isLoopbackName(hostname)) return true
  return allowedHosts.some((raw) => {
    const entry = raw.trim().toLowerCase().replace(/\.$/, '')
    if (entry === '*') return true
    if (entry.startsWith('.')) return hostname === entry.slice(1) || hostname.endsWith(entry)
    return hostname === entry
  })
}

/**
 * Whether a request with this `Origin` may use the server ([OR1], [SD2]). Without an `Origin` header (a client
 * that is not a browser) it may. With an allowlist, the origin must be on it. Without one, only the same origin
 * (the origin's host and port are the `Host` header's; a `Host` without port matches an origin on its scheme's
 * default port) and loopback origins (`http(s)://localhost`, `*.localhost`, `127.x.x.x`, `[::1]`, any port) may:
 * a page of any other site would otherwise read and write the documents of a server on the visitor's machine.
 */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowedOrigins: ReadonlySet<string> | null,
): boolean {
  if (origin === undefined) return true
  if (allowedOrigins !== null) return allowedOrigins.has(origin)
  // `null` (sandboxed frames, file: pages) and other opaque origins do not parse: never allowed by default.
  if (!URL.canParse(origin)) return false
  const url = new URL(origin)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '')
  if (isLoopbackName(hostname) || isLoopbackAddress(hostname)) return true
  const target = host === undefined ? null : parseHost(host)
  if (target === null || target.hostname !== hostname) return false
  // URL leaves `port` empty when it is the scheme's default.
  if (target.port === null) return url.port === ''
  return target.port === (url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port))
}

/**
 * The proxies whose `X-Forwarded-For` is believed ([PX1]): IP addresses and CIDR ranges (`10.0.0.0/8`,
 * `fd00::/8`). Throws RangeError naming the first entry that is neither.
 */
export function parseTrustedProxies(list: readonly string[]): BlockList {
  const blockList = new BlockList()
  for (const raw of list) {
    const entry = raw.trim()
    const [address = '', prefix, extra] = entry.split('/')
    const family = isIP(address)
    const bits = prefix === undefined ? null : /^\d{1,3}$/.test(prefix) ? Number(prefix) : Number.NaN
    const maxBits = family === 6 ? 128 : 32
    if (family === 0 || extra !== undefined || (bits !== null && !(bits <= maxBits))) {
      throw new RangeError(
        `Invalid trusted proxy ${JSON.stringify(entry)}: expected an IP address or a CIDR range such as 10.0.0.0/8`,
      )
    }
    const type = family === 6 ? 'ipv6' : 'ipv4'
    if (bits === null) blockList.addAddress(address, type)
    else blockList.addSubnet(address, bits, type)
  }
  return blockList
}

/** An `X-Forwarded-For` entry as an address: plain, `[v6]`, `[v6]:port` or `v4:port`; `null` when it is none. */
function forwardedAddress(entry: string): string | null {
  const trimmed = entry.trim()
  if (isIP(trimmed) !== 0) return trimmed
  const match = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$|^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/i.exec(trimmed)
  const address = match?.[1] ?? match?.[2]
  return address !== undefined && isIP(address) !== 0 ? address : null
}

function isTrusted(address: string, trustedProxies: BlockList): boolean {
  const family = isIP(address)
  return family !== 0 && trustedProxies.check(address, family === 6 ? 'ipv6' : 'ipv4')
}

/**
 * The client's address ([PX1]): the socket's peer, unless the peer is a trusted proxy; then the rightmost
 * `X-Forwarded-For` entry that is not a trusted proxy (each proxy appends the address it was connected from, so
 * entries left of the first untrusted one are whatever the client wrote). When every entry is a trusted proxy, the
 * leftmost. An entry that is not an address ends the walk at the last hop a trusted proxy vouched for, so a client
 * cannot pick arbitrary strings as its address.
 */
export function clientAddress(req: IncomingMessage, trustedProxies: BlockList | null): string {
  const peer = req.socket.remoteAddress
  if (peer === undefined) return 'unknown'
  if (trustedProxies === null || !isTrusted(peer, trustedProxies)) return peer
  const header = req.headers['x-forwarded-for']
  const entries = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').filter((e) => e.trim())
  let address = peer
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = forwardedAddress(entries[i] as string)
    if (entry === null) return address
    address = entry
    if (!isTrusted(entry, trustedProxies)) return entry
  }
  return address
}
