import type { AddressInfo } from 'node:net'
import { createServer, type Server, Socket } from 'node:net'

/**
 * How a {@link TcpProxy} mistreats the bytes it forwards. Every delay keeps the order of each direction, as TCP
 * does: a chunk is never delivered before the one sent ahead of it.
 */
export interface LinkConditions {
  /** Added to every chunk, in ms. Default 0. */
  latencyMs?: number
  /** A further uniformly random delay of 0 to `jitterMs`, per chunk. Default 0. */
  jitterMs?: number
  /**
   * Probability (0-1) that a chunk is "lost" and has to be retransmitted. TCP hides loss from the application as
   * a stall, so a lost chunk (and, to keep the order, everything behind it) arrives `retransmitMs` late. Default 0.
   */
  lossRate?: number
  /** Extra delay of a lost chunk, in ms: a retransmission timeout. Default 200. */
  retransmitMs?: number
  /**
   * Splits chunks into pieces of at most this many bytes, each delayed on its own, so that (with a latency or
   * jitter) the receiver sees WebSocket frames arrive in fragments. Default: chunks are forwarded whole.
   */
  maxChunkBytes?: number
}

/** Options of {@link TcpProxy.blackhole}. */
export interface BlackholeOptions {
  /**
   * What happens to connections opened while the proxy is blackholed. `wait` (the default): they are accepted
   * and their bytes held, then connected upstream and delivered on {@link TcpProxy.restore}, as when the client's
   * kernel retransmits its SYN until the path comes back. `hang`: their bytes are discarded for good, like a
   * middlebox that accepts connections and never answers; only a client-side timeout gets out of that.
   */
  newConnections?: 'wait' | 'hang'
}

/** One direction of a proxied connection: where its bytes go, in order, after their delay. */
class Direction {
  private readonly queue: Array<{ at: number; chunk: Buffer }> = []
  private timer: NodeJS.Timeout | null = null
  /** Delivery time of the last chunk queued, so later chunks never overtake it. */
  private lastAt = 0

  constructor(
    private readonly to: Socket,
    private readonly proxy: TcpProxy,
  ) {}

  send(chunk: Buffer): void {
    const conditions = this.proxy.conditions
    const pieces = splitChunk(chunk, conditions.maxChunkBytes)
    if (!isImpaired(conditions) && this.queue.length === 0) {
      for (const piece of pieces) this.to.write(piece)
      return
    }
    const now = Date.now()
    for (const piece of pieces) {
      const random = this.proxy.random
      let delay = (conditions.latencyMs ?? 0) + random() * (conditions.jitterMs ?? 0)
      if (random() < (conditions.lossRate ?? 0)) delay += conditions.retransmitMs ?? 200
      const at = Math.max(this.lastAt, now + delay)
      this.lastAt = at
      this.queue.push({ at, chunk: piece })
    }
    this.schedule()
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0) return
    const next = this.queue[0]!
    this.timer = setTimeout(() => this.deliver(), Math.max(0, next.at - Date.now()))
  }

  private deliver(): void {
    this.timer = null
    const now = Date.now()
    while (this.queue.length > 0 && this.queue[0]!.at <= now) {
      const { chunk } = this.queue.shift()!
      // Bytes still in flight when the path went dead are lost with it.
      if (!this.proxy.isBlackholed) this.to.write(chunk)
    }
    this.schedule()
  }

  /** Forgets what is queued (the connection is gone). */
  clear(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.queue.length = 0
  }
}

/** A client connection and its upstream counterpart. */
interface Pair {
  client: Socket
  upstream: Socket | null
  toUpstream: Direction | null
  toClient: Direction | null
  /** Bytes of a connection opened while blackholed, sent upstream on restore (`wait` mode). */
  held: Buffer[] | null
  /** Bytes of this connection are discarded for good (opened while blackholed in `hang` mode). */
  hung: boolean
  /** One side closed while blackholed; the other side learns it on restore, not before. */
  endPending: boolean
  ended: boolean
}

/**
 * A TCP proxy for fault injection. It passes traffic; delays it with latency, jitter and simulated loss
 * ({@link TcpProxy.impair}); blackholes it (stops forwarding both ways without closing, like a dead Wi-Fi or a
 * crashed NAT); or cuts every connection ({@link TcpProxy.cut}).
 */
export class TcpProxy {
  private readonly server: Server
  private readonly pairs = new Set<Pair>()
  private blackholed: Required<BlackholeOptions> | null = null
  /** The current {@link LinkConditions}; see {@link TcpProxy.impair}. */
  conditions: LinkConditions = {}
  /** Source of the random delays; replace it with a seeded generator to replay a run. */
  random: () => number = Math.random
  port = 0

  constructor(private readonly targetPort: number) {
    this.server = createServer((client) => this.onClient(client))
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
    return this
  }

  /**
   * Stops forwarding in both directions; sockets stay open and data is silently discarded. A side that closes
   * meanwhile is not seen closing by the other until {@link TcpProxy.restore}: no FIN or RST crosses a dead path.
   */
  blackhole(options: BlackholeOptions = {}): void {
    this.blackholed = { newConnections: options.newConnections ?? 'wait' }
  }

  /**
   * Forwards again. On connections that were open before, only new data flows (what was discarded is gone, as
   * when a middlebox lost the connection's state); connections opened meanwhile in `wait` mode go through now.
   */
  restore(): void {
    this.blackholed = null
    for (const pair of [...this.pairs]) {
      if (pair.endPending) this.end(pair)
      else if (pair.held) this.connectUpstream(pair)
    }
  }

  /** Applies latency, jitter, loss and fragmentation to every connection from now on; `{}` passes again. */
  impair(conditions: LinkConditions): void {
    this.conditions = { ...conditions }
  }

  /** Closes every open connection at once (both sides see the connection reset). */
  cut(): void {
    for (const pair of [...this.pairs]) {
      pair.client.resetAndDestroy()
      pair.upstream?.resetAndDestroy()
      this.end(pair)
    }
  }

  /** Whether {@link TcpProxy.blackhole} is in effect. */
  get isBlackholed(): boolean {
    return this.blackholed !== null
  }

  /** Number of client connections currently open through the proxy. */
  get connections(): number {
    return this.pairs.size
  }

  private onClient(client: Socket): void {
    const pair: Pair = {
      client,
      upstream: null,
      toUpstream: null,
      toClient: null,
      held: null,
      hung: false,
      endPending: false,
      ended: false,
    }
    this.pairs.add(pair)
    client.on('data', (chunk: Buffer) => {
      if (pair.held) pair.held.push(chunk)
      else if (!this.blackholed && !pair.hung) pair.toUpstream?.send(chunk)
    })
    client.on('close', () => this.sideClosed(pair))
    client.on('error', () => this.sideClosed(pair))
    if (this.blackholed?.newConnections === 'hang') pair.hung = true
    else if (this.blackholed) pair.held = []
    else this.connectUpstream(pair)
  }

  private connectUpstream(pair: Pair): void {
    const held = pair.held ?? []
    pair.held = null
    const upstream = new Socket()
    pair.upstream = upstream
    pair.toUpstream = new Direction(upstream, this)
    pair.toClient = new Direction(pair.client, this)
    upstream.connect(this.targetPort, '127.0.0.1')
    for (const chunk of held) pair.toUpstream.send(chunk)
    upstream.on('data', (chunk: Buffer) => {
      if (!this.blackholed) pair.toClient?.send(chunk)
    })
    upstream.on('close', () => this.sideClosed(pair))
    upstream.on('error', () => this.sideClosed(pair))
  }

  private sideClosed(pair: Pair): void {
    if (pair.ended) return
    if (this.blackholed) pair.endPending = true
    else this.end(pair)
  }

  private end(pair: Pair): void {
    pair.ended = true
    this.pairs.delete(pair)
    pair.toUpstream?.clear()
    pair.toClient?.clear()
    pair.client.destroy()
    pair.upstream?.destroy()
  }

  async close(): Promise<void> {
    for (const pair of [...this.pairs]) this.end(pair)
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

function isImpaired(conditions: LinkConditions): boolean {
  return Boolean(conditions.latencyMs || conditions.jitterMs || conditions.lossRate)
}

function splitChunk(chunk: Buffer, maxBytes: number | undefined): Buffer[] {
  if (!maxBytes || chunk.length <= maxBytes) return [chunk]
  if (maxBytes < 1) throw new RangeError(`maxChunkBytes must be at least 1, got ${maxBytes}`)
  const pieces: Buffer[] = []
  for (let offset = 0; offset < chunk.length; offset += maxBytes) pieces.push(chunk.subarray(offset, offset + maxBytes))
  return pieces
}
