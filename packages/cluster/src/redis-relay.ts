import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { crc32 } from 'node:zlib'
import type { DocRelay, RelayMembership, RelayPeer } from '@collab/server'
import { Redis } from 'ioredis'
import { type Logger, pino } from 'pino'
import * as Y from 'yjs'
import { InstanceLiveness } from './instance-liveness.js'
import { compareStreamIds } from './stream-ids.js'

/** Options of {@link RedisDocRelay.open}. */
export interface RedisDocRelayOptions {
  /** `redis://[user:password@]host:port[/db]` */
  url: string
  /** How other instances name this one in logs. Default `<hostname>:<pid>:<random>`; must be unique. */
  instanceId?: string
  /** Prefix of every Redis key. Default `collab:`. */
  keyPrefix?: string
  logger?: Logger
  /** How often this instance says it is alive. Default 2,000 ms. */
  heartbeatMs?: number
  /** An instance unheard of for this long is declared gone and its clients' presence removed. Default 7,000 ms. */
  deadAfterMs?: number
  /** Every loaded document is reloaded from the shared store about this often (anti-entropy); 0 turns it off. */
  resyncIntervalMs?: number
  /**
   * Streams the documents are spread over (by a hash of their name). An instance reads only the streams of the
   * documents it has loaded, with one blocking read whatever the number of documents. Default 32. Every instance
   * of a deployment must use the same number.
   */
  partitions?: number
  /** Entries each stream keeps (approximately). Default 10,000. */
  streamMaxLength?: number
}

/** What a stream entry says; one letter each, in the `t` field. */
const Kind = {
  Update: 'u',
  Awareness: 'a',
  /** "Tell me who is connected to you": answered with an Awareness entry. */
  Query: 'q',
  /** "Reload this document from the store": sent after this instance lost its connection. */
  Resync: 'r',
  Deleted: 'x',
  Heartbeat: 'h',
  Bye: 'b',
} as const
type KindValue = (typeof Kind)[keyof typeof Kind]

interface Member {
  peer: RelayPeer
  /** Instances that published on this document since the member joined: they are told about when one dies. */
  heardFrom: Set<string>
}

/**
 * One of the streams the documents are spread over, read while at least one of its documents is loaded here.
 * Every entry names its document.
 */
interface Partition {
  key: string
  /** The last entry read (or where reading starts); `null` until positioned. */
  position: string | null
  /** Settles once positioned, or once positioning failed (Redis unreachable). */
  positioned: Promise<void>
  /** The loaded documents of this partition, by name. */
  docs: Map<string, DocStream>
  expirySetAt: number
}

/** A document loaded by at least one room of this instance. */
interface DocStream {
  docName: string
  partition: Partition
  members: Set<Member>
  /** Updates that could not be published (Redis unreachable), sent merged after reconnecting. */
  unsent: Uint8Array[]
  unsentBytes: number
  nextResyncAt: number
}

type StreamReply = Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null

const readCount = 1_000
const readBlockMs = 1_000
const maxUnsentUpdates = 4_096
const maxUnsentBytes = 8 << 20
/** A document stream nobody writes to for this long disappears from Redis. */
const streamTtlMs = 60 * 60_000

/**
 * The relay between server instances on Redis Streams: the documents are spread over a fixed number of streams
 * (`<prefix>p:<n>`, n from a hash of the name, every entry naming its document) that each instance reads from its own
 * last-read position while it has one of their documents loaded, and one stream of heartbeats
 * (`<prefix>instances`). A fixed number of streams keeps each blocking read the same size however many documents
 * are open (a stream per document made every read, and Redis's work for it, grow with them). Unlike pub/sub, a reader that was briefly disconnected continues where it stopped; what
 * streams cannot promise (Redis restarted empty, entries trimmed before they were read, a publish that failed) is
 * covered by reloading the document from the shared store (anti-entropy): after every reconnect, when a reader
 * fell behind the trimmed part, when another instance dies or asks for it, and periodically. ARCHITECTURE.md,
 * "Several instances", lists the failure cases.
 */
export class RedisDocRelay implements DocRelay {
  /** Loaded documents by name. */
  private readonly streams = new Map<string, DocStream>()
  /** Partitions with at least one loaded document, by key. */
  private readonly partitions = new Map<string, Partition>()
  private readonly liveness: InstanceLiveness
  private heartbeatPosition = '0-0'
  private closed = false
  private readLoop: Promise<void> = Promise.resolve()
  private readerClientId: number | null = null
  private readonly timers: NodeJS.Timeout[] = []
  /** Whether each connection was ever ready, so that 'ready' after that means "reconnected". */
  private readonly wasReady = { reader: false, writer: false }
  private readonly logger: Logger

  private constructor(
    readonly instanceId: string,
    private readonly reader: Redis,
    private readonly writer: Redis,
    private readonly options: Required<Omit<RedisDocRelayOptions, 'logger' | 'instanceId'>>,
    logger: Logger,
  ) {
    this.logger = logger.child({ relay: instanceId })
    this.liveness = new InstanceLiveness(options.deadAfterMs)
  }

  /** Connects to Redis; rejects when Redis cannot be reached at start (a configuration error, most likely). */
  static async open(options: RedisDocRelayOptions): Promise<RedisDocRelay> {
    const resolved = {
      url: options.url,
      keyPrefix: options.keyPrefix ?? 'collab:',
      heartbeatMs: options.heartbeatMs ?? 2_000,
      deadAfterMs: options.deadAfterMs ?? 7_000,
      resyncIntervalMs: options.resyncIntervalMs ?? 30_000,
      partitions: options.partitions ?? 32,
      streamMaxLength: options.streamMaxLength ?? 10_000,
    }
    if (!Number.isInteger(resolved.partitions) || resolved.partitions < 1 || resolved.partitions > 65_536) {
      throw new RangeError(`partitions must be a whole number from 1 to 65536, not ${resolved.partitions}`)
    }
    const common = {
      lazyConnect: true,
      connectTimeout: 5_000,
      // Nothing waits in a queue for a Redis that is down: publishes that fail are kept and sent after the
      // reconnect, reads are retried by the read loop, and anything else is covered by the resync that follows.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt: number) => Math.min(50 * attempt, 1_000),
      // A blackholed connection shows as silence: drop it and reconnect instead of waiting forever.
      socketTimeout: 5_000,
    }
    const reader = new Redis(resolved.url, { ...common, connectionName: 'collab-relay-reader' })
    const writer = new Redis(resolved.url, {
      ...common,
      connectionName: 'collab-relay-writer',
      enableAutoPipelining: true,
      commandTimeout: 3_000,
    })
    const instanceId = options.instanceId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
    const relay = new RedisDocRelay(instanceId, reader, writer, resolved, options.logger ?? pino({ level: 'silent' }))
    try {
      await relay.start()
    } catch (err) {
      reader.disconnect()
      writer.disconnect()
      throw err
    }
    return relay
  }

  private async start(): Promise<void> {
    this.watchConnection(this.reader, 'reader')
    this.watchConnection(this.writer, 'writer')
    await Promise.all([this.reader.connect(), this.writer.connect()])
    this.heartbeatPosition = (await this.lastId(this.heartbeatKey)) ?? '0-0'
    this.heartbeat()
    this.timers.push(setInterval(() => this.heartbeat(), this.options.heartbeatMs))
    this.timers.push(setInterval(() => this.sweep(), 500))
    for (const timer of this.timers) timer.unref()
    this.readLoop = this.read()
  }

  private get heartbeatKey(): string {
    return `${this.options.keyPrefix}instances`
  }

  private partitionKey(docName: string): string {
    return `${this.options.keyPrefix}p:${crc32(docName) % this.options.partitions}`
  }

  join(docName: string, peer: RelayPeer): RelayMembership {
    let stream = this.streams.get(docName)
    if (!stream) {
      const key = this.partitionKey(docName)
      let partition = this.partitions.get(key)
      if (!partition) {
        partition = { key, position: null, positioned: Promise.resolve(), docs: new Map(), expirySetAt: 0 }
        this.partitions.set(key, partition)
        partition.positioned = this.position(partition)
      }
      // A partition already being read needs no positioning for a newly loaded document: whatever it published
      // before the read position was read before now, and was stored before it was published.
      stream = {
        docName,
        partition,
        members: new Set(),
        unsent: [],
        unsentBytes: 0,
        nextResyncAt: this.nextResyncAt(),
      }
      partition.docs.set(docName, stream)
      this.streams.set(docName, stream)
    }
    const joined = stream
    const member: Member = { peer, heardFrom: new Set() }
    joined.members.add(member)
    const ready = joined.partition.positioned.then(() => {
      // Whoever is connected elsewhere introduces themselves in answer.
      this.publish(joined, Kind.Query)
    })
    let left = false
    return {
      ready,
      publishUpdate: (update) => {
        if (!left) this.publish(joined, Kind.Update, update)
      },
      publishAwareness: (update) => {
        if (!left) this.publish(joined, Kind.Awareness, update)
      },
      leave: () => {
        if (left) return
        left = true
        joined.members.delete(member)
        if (joined.members.size > 0 || this.streams.get(docName) !== joined) return
        this.streams.delete(docName)
        const { partition } = joined
        partition.docs.delete(docName)
        // Unsent updates of a document nobody here has open any more are in the store (they were stored first).
        if (partition.docs.size === 0 && this.partitions.get(partition.key) === partition) {
          this.partitions.delete(partition.key)
        }
      },
    }
  }

  publishDeleted(docName: string): void {
    this.xadd(this.partitionKey(docName), docName, Kind.Deleted).catch((err: unknown) => this.publishFailed(err))
  }

  /** Says goodbye (the others remove this instance's presence at once) and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const timer of this.timers) clearInterval(timer)
    if (this.writer.status === 'ready') await this.xadd(this.heartbeatKey, null, Kind.Bye).catch(() => undefined)
    this.reader.disconnect()
    await this.readLoop
    await this.writer.quit().catch(() => this.writer.disconnect())
  }

  /**
   * Where reading a partition starts: after its newest entry. Rooms publish updates only once stored, so whatever
   * was published up to here is in the store, which a joining room reads after this.
   */
  private async position(partition: Partition): Promise<void> {
    try {
      partition.position = (await this.lastId(partition.key)) ?? '0-0'
      this.wakeReader()
    } catch (err) {
      // The room loads anyway; once Redis is back the partition is positioned and its rooms resynced.
      this.logger.warn(
        { docs: [...partition.docs.keys()].slice(0, 5), err: errorMessage(err) },
        'relay: joined while Redis is unreachable',
      )
    }
  }

  private async lastId(key: string): Promise<string | null> {
    const entries = await this.writer.xrevrange(key, '+', '-', 'COUNT', 1)
    return entries[0]?.[0] ?? null
  }

  private publish(stream: DocStream, kind: KindValue, data?: Uint8Array): void {
    if (this.closed) return
    const failed = (err: unknown) => {
      if (kind === Kind.Update && data) this.keepUnsent(stream, data)
      this.publishFailed(err)
    }
    if (this.writer.status !== 'ready') {
      failed(new Error(`Redis connection is ${this.writer.status}`))
      return
    }
    const { partition } = stream
    this.xadd(partition.key, stream.docName, kind, data).catch(failed)
    const now = Date.now()
    if (now - partition.expirySetAt > 60_000) {
      partition.expirySetAt = now
      this.writer.pexpire(partition.key, streamTtlMs).catch((err: unknown) => this.publishFailed(err))
    }
  }

  /** Adds an entry: from this instance, of `kind`, about `docName` (none for heartbeats), carrying `data`. */
  private xadd(key: string, docName: string | null, kind: KindValue, data?: Uint8Array): Promise<unknown> {
    const fields: Array<string | Buffer> = ['f', this.instanceId, 't', kind]
    if (docName !== null) fields.push('n', docName)
    if (data) fields.push('d', Buffer.from(data.buffer, data.byteOffset, data.byteLength))
    const maxLength = key === this.heartbeatKey ? 1_000 : this.options.streamMaxLength
    return this.writer.xadd(key, 'MAXLEN', '~', maxLength, '*', ...fields)
  }

  private keepUnsent(stream: DocStream, update: Uint8Array): void {
    if (stream.unsent.length >= maxUnsentUpdates || stream.unsentBytes >= maxUnsentBytes) {
      // Too much to carry: the others will find it in the store when they resync after the reconnect.
      stream.unsent = []
      stream.unsentBytes = 0
      return
    }
    stream.unsent.push(update.slice())
    stream.unsentBytes += update.length
  }

  private publishFailed(err: unknown): void {
    this.logger.debug({ err: errorMessage(err) }, 'relay: publish failed')
  }

  private heartbeat(): void {
    if (this.closed || this.writer.status !== 'ready') return
    this.xadd(this.heartbeatKey, null, Kind.Heartbeat).catch((err: unknown) => this.publishFailed(err))
  }

  /** The read loop: one blocking XREAD over the heartbeat stream and every positioned partition. */
  private async read(): Promise<void> {
    while (!this.closed) {
      if (this.reader.status !== 'ready') {
        await this.untilReady(this.reader)
        continue
      }
      if (this.readerClientId === null) {
        this.readerClientId = Number(await this.reader.client('ID').catch(() => null)) || null
      }
      const keys = [this.heartbeatKey]
      const ids = [this.heartbeatPosition]
      /** What this read is for: a partition dropped and made anew meanwhile starts from its own position. */
      const reading = new Map<string, Partition>()
      for (const partition of this.partitions.values()) {
        if (partition.position === null) continue
        keys.push(partition.key)
        ids.push(partition.position)
        reading.set(partition.key, partition)
      }
      const issuedAt = Date.now()
      let reply: StreamReply
      try {
        reply = (await this.reader.xreadBuffer(
          'COUNT',
          readCount,
          'BLOCK',
          readBlockMs,
          'STREAMS',
          ...keys,
          ...ids,
        )) as StreamReply
      } catch (err) {
        if (this.closed) break
        this.logger.debug({ err: errorMessage(err) }, 'relay: read failed')
        await sleep(100)
        continue
      }
      this.liveness.readCompleted(issuedAt)
      for (const [keyBuffer, entries] of reply ?? []) {
        const key = keyBuffer.toString()
        if (key === this.heartbeatKey) this.onHeartbeats(entries)
        else {
          const partition = reading.get(key)
          if (partition && this.partitions.get(key) === partition) await this.onPartitionEntries(partition, entries)
        }
      }
    }
  }

  /** Interrupts the blocking read so that it starts again with a newly positioned partition. */
  private wakeReader(): void {
    if (this.readerClientId === null || this.writer.status !== 'ready') return
    // The blocked XREAD returns as if it timed out, and the loop reads again with the new stream.
    this.writer.client('UNBLOCK', this.readerClientId).catch((err: unknown) => this.publishFailed(err))
  }

  private onHeartbeats(entries: Array<[Buffer, Buffer[]]>): void {
    const now = Date.now()
    for (const [id, fields] of entries) {
      this.heartbeatPosition = id.toString()
      const { from, kind } = decodeFields(fields)
      if (!from || from === this.instanceId) continue
      if (kind === Kind.Bye) {
        this.liveness.forget(from)
        this.instanceGone(from, false)
      } else this.liveness.seen(from, now)
    }
  }

  private async onPartitionEntries(partition: Partition, entries: Array<[Buffer, Buffer[]]>): Promise<void> {
    const before = partition.position
    const now = Date.now()
    for (const [id, fields] of entries) {
      partition.position = id.toString()
      const { from, kind, doc, data } = decodeFields(fields)
      if (!from || from === this.instanceId) continue
      this.liveness.seen(from, now)
      const stream = doc === null ? undefined : partition.docs.get(doc)
      if (!stream) continue
      for (const member of stream.members) {
        member.heardFrom.add(from)
        this.deliver(stream, member, from, kind, data)
      }
    }
    // A full batch means this reader is behind; if Redis trimmed entries it had not read yet, they are lost.
    if (entries.length === readCount && before !== null && (await this.trimmedSince(partition.key, before))) {
      for (const stream of partition.docs.values()) {
        this.resyncMembers(stream, 'the stream was trimmed before this instance read it')
      }
    }
  }

  private deliver(stream: DocStream, member: Member, from: string, kind: string, data: Buffer | null): void {
    const { peer } = member
    try {
      switch (kind) {
        case Kind.Update:
          if (data) peer.update(data)
          return
        case Kind.Awareness:
          if (data) peer.awareness(from, data)
          return
        case Kind.Query: {
          const present = peer.localAwareness()
          if (present) this.publish(stream, Kind.Awareness, present)
          return
        }
        case Kind.Resync:
          peer.resync(`asked by ${from}`)
          return
        case Kind.Deleted:
          peer.deleted()
          return
        default:
          this.logger.warn({ doc: stream.docName, from, kind }, 'relay: unknown entry kind ignored')
      }
    } catch (err) {
      this.logger.error({ doc: stream.docName, from, kind, err: errorMessage(err) }, 'relay: a room failed')
    }
  }

  private async trimmedSince(key: string, position: string): Promise<boolean> {
    try {
      const info = (await this.writer.xinfo('STREAM', key)) as unknown[]
      const at = info.indexOf('max-deleted-entry-id')
      // Redis before 7.0 does not say what it trimmed: assume the worst.
      if (at < 0) return true
      return compareStreamIds(String(info[at + 1]), position) > 0
    } catch {
      // Cannot tell: the resync this triggers is harmless.
      return true
    }
  }

  /** Timers: instances that stopped answering, and the periodic anti-entropy. */
  private sweep(): void {
    for (const id of this.liveness.collectGone()) {
      this.logger.warn({ instance: id }, 'relay: instance stopped answering; removing its clients')
      this.instanceGone(id, true)
    }
    const now = Date.now()
    if (this.options.resyncIntervalMs <= 0) return
    for (const stream of this.streams.values()) {
      if (now < stream.nextResyncAt) continue
      stream.nextResyncAt = this.nextResyncAt()
      this.resyncMembers(stream, 'periodic')
    }
  }

  private nextResyncAt(): number {
    // Spread out, so that documents loaded together are not all reloaded in the same second.
    return Date.now() + this.options.resyncIntervalMs * (0.75 + Math.random() / 2)
  }

  private instanceGone(id: string, died: boolean): void {
    for (const stream of this.streams.values()) {
      for (const member of stream.members) {
        if (!member.heardFrom.delete(id)) continue
        try {
          member.peer.instanceGone(id)
          // What it published last may not have reached this instance, but it stored it before dying.
          if (died) member.peer.resync(`instance ${id} died`)
        } catch (err) {
          this.logger.error({ doc: stream.docName, err: errorMessage(err) }, 'relay: a room failed')
        }
      }
    }
  }

  private resyncMembers(stream: DocStream, reason: string): void {
    for (const member of stream.members) {
      try {
        member.peer.resync(reason)
      } catch (err) {
        this.logger.error({ doc: stream.docName, err: errorMessage(err) }, 'relay: a room failed')
      }
    }
  }

  private watchConnection(redis: Redis, role: 'reader' | 'writer'): void {
    let down = false
    redis.on('error', (err: Error) => {
      // ioredis reports every failed reconnect attempt; one line per outage is enough.
      if (!down && !this.closed) this.logger.warn({ role, err: err.message }, 'relay: Redis connection failed')
      down = true
    })
    redis.on('close', () => {
      if (role === 'reader') this.readerClientId = null
      down = true
    })
    redis.on('ready', () => {
      const reconnected = this.wasReady[role]
      this.wasReady[role] = true
      down = false
      if (!reconnected || this.closed) return
      this.logger.info({ role }, 'relay: Redis reconnected')
      if (role === 'reader') this.readerReconnected()
      else this.writerReconnected()
    })
  }

  /** The reader missed whatever was published while it was away, or Redis lost it: reload from the store. */
  private readerReconnected(): void {
    this.liveness.forgiveAll(Date.now())
    for (const stream of this.streams.values()) {
      // Jittered, so that every instance does not hit the store in the same millisecond after a Redis restart.
      setTimeout(() => this.resyncMembers(stream, 'Redis reconnected'), Math.random() * 250).unref()
    }
  }

  /** What this instance could not publish meanwhile: sent now, and the others asked to check the store. */
  private writerReconnected(): void {
    for (const partition of this.partitions.values()) {
      if (partition.position !== null) continue
      const positioned = this.position(partition)
      partition.positioned = positioned
      void positioned.then(() => {
        for (const stream of partition.docs.values()) this.resyncMembers(stream, 'joined while Redis was unreachable')
      })
    }
    for (const stream of this.streams.values()) {
      if (stream.unsent.length > 0) {
        const merged = Y.mergeUpdates(stream.unsent)
        stream.unsent = []
        stream.unsentBytes = 0
        this.publish(stream, Kind.Update, merged)
      }
      this.publish(stream, Kind.Resync)
      // The others may have declared this instance dead meanwhile and removed its clients: introduce them again.
      for (const member of stream.members) {
        const present = member.peer.localAwareness()
        if (present) this.publish(stream, Kind.Awareness, present)
      }
      this.publish(stream, Kind.Query)
    }
  }

  private untilReady(redis: Redis): Promise<void> {
    return new Promise((resolve) => {
      const check = setInterval(() => {
        if (redis.status === 'ready' || this.closed) {
          clearInterval(check)
          resolve()
        }
      }, 50)
    })
  }
}

function decodeFields(fields: Buffer[]): {
  from: string | null
  kind: string
  doc: string | null
  data: Buffer | null
} {
  let from: string | null = null
  let kind = ''
  let doc: string | null = null
  let data: Buffer | null = null
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]?.toString()
    const value = fields[i + 1]!
    if (name === 'f') from = value.toString()
    else if (name === 't') kind = value.toString()
    else if (name === 'n') doc = value.toString()
    else if (name === 'd') data = value
  }
  return { from, kind, doc, data }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
