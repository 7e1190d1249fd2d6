import { Agent, createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { connect } from 'node:net'

/**
 * What an {@link HttpProxy} does with a WebSocket upgrade. `refuse`: answers `403` and closes, as a proxy that does
 * not allow `Upgrade` (the browser sees the WebSocket fail at once). `hang`: accepts the request and never answers,
 * as a proxy that waits for the end of a response that never ends (the WebSocket never opens). `mute`: passes the
 * upgrade and its `101` answer, then holds every byte the server sends (the WebSocket opens, and hears nothing).
 * `hold`: like `mute`, but keeps what it holds and delivers it, and all that follows, on
 * {@link HttpProxy.release} (a server or middlebox that was slow, not broken). `allow`: tunnels it.
 */
export type UpgradePolicy = 'refuse' | 'hang' | 'mute' | 'hold' | 'allow'

/**
 * An HTTP proxy like those of corporate networks that break WebSocket: it forwards plain HTTP requests to one
 * upstream server, but **buffers every response until it is complete** before sending any of it (a long-poll answer
 * arrives whole, a stream would arrive only at its end), and refuses or holds WebSocket upgrades
 * ({@link HttpProxy.upgrades}, changeable at any time: `allow` only affects upgrades that arrive after it).
 */
export class HttpProxy {
  /** What happens to the next WebSocket upgrades. */
  upgrades: UpgradePolicy
  port = 0
  /** Upgrades seen, whatever was done with them. */
  upgradesSeen = 0
  /** Plain HTTP requests forwarded. */
  requestsForwarded = 0
  private readonly server: Server
  private readonly agent = new Agent({ keepAlive: true })
  private readonly sockets = new Set<Socket>()
  /** Tunnels opened under `hold`: what the server sent, not yet delivered, and how to deliver the rest. */
  private readonly held = new Set<() => void>()

  constructor(
    private readonly targetPort: number,
    options: { upgrades?: UpgradePolicy } = {},
  ) {
    this.upgrades = options.upgrades ?? 'refuse'
    this.server = createServer((req, res) => this.forward(req, res))
    this.server.on('connection', (socket: Socket) => this.track(socket))
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head))
  }

  /** `http://127.0.0.1:<port>`, the proxy's base URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
    return this
  }

  /**
   * Delivers everything held on the tunnels opened under `hold`, in order, and tunnels them from now on; later
   * upgrades are allowed.
   */
  release(): void {
    this.upgrades = 'allow'
    for (const deliver of this.held) deliver()
    this.held.clear()
  }

  /** Drops every connection through the proxy, tunnels included (as when a proxy restarts). */
  cut(): void {
    for (const socket of this.sockets) socket.destroy()
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.cut()
    this.agent.destroy()
    await closed
  }

  private track(socket: Socket): void {
    this.sockets.add(socket)
    socket.once('close', () => this.sockets.delete(socket))
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    this.requestsForwarded++
    const upstream = request(
      {
        host: '127.0.0.1',
        port: this.targetPort,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: this.agent,
      },
      (answer) => {
        const chunks: Buffer[] = []
        answer.on('data', (chunk: Buffer) => chunks.push(chunk))
        answer.on('error', () => res.destroy())
        answer.on('end', () => {
          // Only now, with all of it: the buffering this proxy stands for.
          const body = Buffer.concat(chunks)
          const headers = { ...answer.headers }
          delete headers['transfer-encoding']
          headers['content-length'] = String(body.length)
          res.writeHead(answer.statusCode ?? 502, headers)
          res.end(body)
        })
      },
    )
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway')
      else res.destroy()
    })
    // A client that leaves abandons its request upstream too, as a proxy does.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy()
    })
    req.pipe(upstream)
  }

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.upgradesSeen++
    if (this.upgrades === 'refuse') {
      socket.end(
        'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 25\r\nConnection: close\r\n\r\nWebSocket is not allowed.',
      )
      return
    }
    if (this.upgrades === 'hang') {
      socket.on('error', () => socket.destroy())
      return
    }
    const upstream = connect(this.targetPort, '127.0.0.1')
    this.track(upstream)
    const lines = [`${req.method} ${req.url} HTTP/1.1`]
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`)
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`)
    if (head.length > 0) upstream.write(head)
    if (this.upgrades === 'mute' || this.upgrades === 'hold') {
      // The 101 answer goes through; nothing after it does, until a release of a held tunnel.
      const keep = this.upgrades === 'hold'
      const kept: Buffer[] = []
      let released = false
      let seen = ''
      upstream.on('data', (chunk: Buffer) => {
        if (released) {
          socket.write(chunk)
          return
        }
        if (seen.includes('\r\n\r\n')) {
          if (keep) kept.push(chunk)
          return
        }
        const text = chunk.toString('latin1')
        const end = (seen + text).indexOf('\r\n\r\n')
        socket.write(end < 0 ? chunk : chunk.subarray(0, end + 4 - seen.length))
        if (keep && end >= 0 && end + 4 - seen.length < chunk.length) kept.push(chunk.subarray(end + 4 - seen.length))
        seen += text
      })
      if (keep) {
        const deliver = () => {
          released = true
          for (const chunk of kept.splice(0)) socket.write(chunk)
        }
        this.held.add(deliver)
        socket.once('close', () => this.held.delete(deliver))
      }
    } else upstream.pipe(socket)
    socket.pipe(upstream)
    const end = () => {
      socket.destroy()
      upstream.destroy()
    }
    upstream.on('error', end)
    socket.on('error', end)
    upstream.on('close', end)
    socket.on('close', end)
  }
}
