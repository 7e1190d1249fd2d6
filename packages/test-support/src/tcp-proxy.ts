import type { AddressInfo } from 'node:net'
import { createServer, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy for fault injection: passes traffic, or blackholes it (stops forwarding both ways without closing,
 * like a dead Wi-Fi or a crashed NAT), or cuts every connection.
 */
export class TcpProxy {
  private readonly server: Server
  private readonly pairs = new Set<[Socket, Socket]>()
  private blackholed = false
  port = 0

  constructor(private readonly targetPort: number) {
    this.server = createServer((client) => this.onClient(client))
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
    return this
  }

  /** Stops forwarding in both directions; sockets stay open and data is silently discarded. */
  blackhole(): void {
    this.blackholed = true
  }

  /** Forwards again (new data only; what was discarded is gone, as on a real network). */
  restore(): void {
    this.blackholed = false
  }

  /** Number of client connections currently open through the proxy. */
  get connections(): number {
    return this.pairs.size
  }

  private onClient(client: Socket): void {
    const upstream = new (client.constructor as typeof Socket)()
    upstream.connect(this.targetPort, '127.0.0.1')
    const pair: [Socket, Socket] = [client, upstream]
    this.pairs.add(pair)
    client.on('data', (chunk) => {
      if (!this.blackholed) upstream.write(chunk)
    })
    upstream.on('data', (chunk) => {
      if (!this.blackholed) client.write(chunk)
    })
    const end = () => {
      this.pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('close', end)
    upstream.on('close', end)
    client.on('error', end)
    upstream.on('error', end)
  }

  async close(): Promise<void> {
    for (const [a, b] of this.pairs) {
      a.destroy()
      b.destroy()
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}
