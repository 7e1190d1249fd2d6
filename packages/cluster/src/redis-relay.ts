import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { DocRelay, RelayMembership, RelayPeer } from '@collab/server'
import { Redis } from 'ioredis'
import { type Logger, pino } from 'pino'
import * as Y from 'yjs'
import { InstanceLiveness } from './instance-liveness.js'
import { type Partition, PartitionMembership } from './partition-membership.js'
import {
  type DocDataEntry,
  type DocEntry,
  type DocSignalEntry,
  decodeEntry,
  EntryKind,
  encodeEntry,
  type StreamEntry,
} from './stream-entry.js'
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

interface Member {
  peer: RelayPeer
  /** Instances that published on this document since the member joined: they are told about when one dies. */
  heardFrom: Set<string>
}

/** A document loaded by at least one room of this instance. */
interface DocStream {
  docName: string
  partition: Partition<DocStream>
  members: Set<Member>
  /** Updates that could not be published (Redis unreachable), sent merged after reconnecting. */
  unsent: Uint8Array[]
  unsentBytes: number
  nextResyncAt: number
  /**
   * The other instances that have this document loaded, as far as this one knows: its updates and presence are
   * published only while there is one (or an instance of an older version is alive). Learnt from their entries
   * about it (a Query when they load it, a Here in answer to this instance's Query, any update or presence), and
   * forgotten when they say Left, say goodbye or are declared gone.
   */
  others: Set<string>
  /**
   * An update was stored here but not published, as no other instance had the document loaded. The next instance
   * found to have it is asked to reload it from the store (where that update is), since it may have loaded the
   * document before the update was stored.
   */
  unpublished: boolean
}

/** What a document entry says, before the relay names its writer and document. */
type DocEntryBody = Pick<DocDataEntry, 'kind' | 'data'> | Pick<DocSignalEntry, 'kind'>

type StreamReply = Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null

const readCount = 1_000
const readBlockMs = 1_000
const maxUnsentUpdates = 4_096
const maxUnsentBytes = 8 << 20
/** A document stream nobody writes to for this long disappears from Redis. */
const streamTtlMs = 60 * 60_000
/** How often a stream written to has its expiry pushed back. */
const streamTtlRefreshMs = 60_000
/** Instances declared gone that are remembered, so that one heard from again is recognised as back. */
const maxRememberedGone = 1_024

/**
 * The relay between server instances on Redis Streams: the documents are spread over a fixed number of streams
 * (`<prefix>p:<n>`, n from a hash of the name, every entry naming its document; partition-membership.ts) that each
 * instance reads from its own last-read position while it has one of their documents loaded, and one stream of
 * heartbeats (`<prefix>instances`); stream-entry.ts is what the entries hold. A fixed number of streams keeps each
 * blocking read the same size however many documents are open (a stream per document made every read, and Redis's
 * work for it, grow with them). Unlike pub/sub, a reader that was briefly disconnected continues where it stopped;
 * what streams cannot promise (Redis restarted empty, entries trimmed before they were read, a publish that failed) is
 * covered by reloading the document from the shared store (anti-entropy): after every reconnect, when a reader
 * fell behind the trimmed part, when another instance dies or asks for it, and periodically. ARCHITECTURE.md,
 * "Several instances", lists the failure cases.
 */
export class RedisDocRelay implements DocRelay {
  private readonly membership: PartitionMembership<DocStream>
  private readonly liveness: InstanceLiveness
  private heartbeatPosition = '0-0'
  /**
   * Alive instances of an older version, whose heartbeats do not say they publish by interest: they expect every
   * update of the documents they have loaded, and do not answer a Query with Here, so while one is alive every
   * update is published.
   */
  private readonly legacy = new Set<string>()
  /** Instances declared gone (most recent last), to tell one that comes back from a new one. */
  private readonly declaredGone = new Set<string>()
  /** Aborted by {@link close}: nothing is published after it, and the read loop stops waiting for Redis. */
  private readonly closing = new AbortController()
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
    this.membership = new PartitionMembership({
      keyPrefix: options.keyPrefix,
      count: options.partitions,
      newestEntryId: (key) => this.lastId(key),
      positioned: () => this.wakeReader(),
      positionFailed: (partition, err) => {
        // The room loads anyway; once Redis is back the partition is positioned and its rooms resynced.
        this.logger.warn(
          { docs: [...partition.docs.keys()].slice(0, 5), err: errorMessage(err) },
          'relay: joined while Redis is unreachable',
        )
      },
    })
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
    try {
      // Constructing checks the options (a RangeError for a bad partition count): the clients are closed then too.
      const relay = new RedisDocRelay(instanceId, reader, writer, resolved, options.logger ?? pino({ level: 'silent' }))
      await relay.start()
      return relay
    } catch (err) {
      reader.disconnect()
      writer.disconnect()
      throw err
    }
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

  private get closed(): boolean {
    return this.closing.signal.aborted
  }

  join(docName: string, peer: RelayPeer): RelayMembership {
    const joined = this.membership.load(docName, (partition) => ({
      docName,
      partition,
      members: new Set(),
      unsent: [],
      unsentBytes: 0,
      nextResyncAt: this.nextResyncAt(),
      others: new Set(),
      unpublished: false,
    }))
    const member: Member = { peer, heardFrom: new Set() }
    joined.members.add(member)
    const ready = joined.partition.positioned.then(() => {
      // Whoever is connected elsewhere introduces themselves in answer.
      this.publish(joined, { kind: EntryKind.Query })
    })
    let left = false
    return {
      ready,
      publishUpdate: (update) => {
        if (!left) this.publish(joined, { kind: EntryKind.Update, data: update })
      },
      publishAwareness: (update) => {
        if (!left) this.publish(joined, { kind: EntryKind.Awareness, data: update })
      },
      leave: () => {
        if (left) return
        left = true
        joined.members.delete(member)
        // Unsent updates of a document nobody here has open any more are in the store (they were stored first).
        if (joined.members.size > 0) return
        this.membership.unload(docName, joined)
        // The others stop publishing it for this instance (one that misses this only publishes needlessly).
        this.publish(joined, { kind: EntryKind.Left })
      },
    }
  }

  publishDeleted(docName: string): void {
    const entry: StreamEntry = { kind: EntryKind.Deleted, from: this.instanceId, doc: docName }
    this.append(this.membership.keyOf(docName), entry).catch((err: unknown) => this.publishFailed(err))
  }

  /** Says goodbye (the others remove this instance's presence at once) and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closing.abort()
    for (const timer of this.timers) clearInterval(timer)
    if (this.writer.status === 'ready') {
      // Best effort: without it the others declare this instance dead a few seconds later instead.
      await this.append(this.heartbeatKey, { kind: EntryKind.Bye, from: this.instanceId }).catch(() => undefined)
    }
    this.reader.disconnect()
    await this.readLoop
    await this.writer.quit().catch(() => this.writer.disconnect())
  }

  private async lastId(key: string): Promise<string | null> {
    const entries = await this.writer.xrevrange(key, '+', '-', 'COUNT', 1)
    return entries[0]?.[0] ?? null
  }

  private publish(stream: DocStream, body: DocEntryBody): void {
    if (this.closed) return
    if ((body.kind === EntryKind.Update || body.kind === EntryKind.Awareness) && !this.hasAudience(stream)) {
      // Nobody else has the document: nothing to send. Whoever loads it next reads the update from the store, or
      // is asked to (see DocStream.unpublished); presence is sent to an instance when it is found.
      if (body.kind === EntryKind.Update) stream.unpublished = true
      return
    }
    const failed = (err: unknown) => {
      if (body.kind === EntryKind.Update) this.keepUnsent(stream, body.data)
      this.publishFailed(err)
    }
    if (this.writer.status !== 'ready') {
      failed(new Error(`Redis connection is ${this.writer.status}`))
      return
    }
    const { partition } = stream
    this.append(partition.key, { ...body, from: this.instanceId, doc: stream.docName }).catch(failed)
    if (partition.claimExpiryRefresh(Date.now(), streamTtlRefreshMs)) {
      this.writer.pexpire(partition.key, streamTtlMs).catch((err: unknown) => this.publishFailed(err))
    }
  }

  /** Adds `entry` to the stream `key`, trimming the stream to about its length. */
  private append(key: string, entry: StreamEntry): Promise<unknown> {
    const maxLength = key === this.heartbeatKey ? 1_000 : this.options.streamMaxLength
    return this.writer.xadd(key, 'MAXLEN', '~', maxLength, '*', ...encodeEntry(entry))
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

  /** Whether another instance may want the updates of `stream`. */
  private hasAudience(stream: DocStream): boolean {
    return stream.others.size > 0 || this.legacy.size > 0
  }

  private heartbeat(): void {
    if (this.closed || this.writer.status !== 'ready') return
    const entry: StreamEntry = { kind: EntryKind.Heartbeat, from: this.instanceId, byInterest: true }
    this.append(this.heartbeatKey, entry).catch((err: unknown) => this.publishFailed(err))
  }

  /** The read loop: one blocking XREAD over the heartbeat stream and every positioned partition. */
  private async read(): Promise<void> {
    while (!this.closed) {
      if (this.reader.status !== 'ready') {
        await untilReady(this.reader, this.closing.signal)
        continue
      }
      if (this.readerClientId === null) {
        this.readerClientId = Number(await this.reader.client('ID').catch(() => null)) || null
      }
      const keys = [this.heartbeatKey]
      const ids = [this.heartbeatPosition]
      /** What this read is for: a partition dropped and made anew meanwhile starts from its own position. */
      const reading = new Map<string, Partition<DocStream>>()
      for (const { partition, position } of this.membership.readSet()) {
        keys.push(partition.key)
        ids.push(position)
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
          if (partition && this.membership.isRead(partition)) await this.onPartitionEntries(partition, entries)
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
      const decoded = decodeEntry(fields)
      const { from } = decoded
      if (!from || from === this.instanceId) continue
      if (decoded.ok && decoded.entry.kind === EntryKind.Bye) {
        this.liveness.forget(from)
        this.instanceGone(from, false)
        continue
      }
      this.seen(from, now)
      if (decoded.ok && decoded.entry.kind === EntryKind.Heartbeat) {
        if (decoded.entry.byInterest) this.legacy.delete(from)
        else if (!this.legacy.has(from)) this.legacyFound(from)
      }
    }
  }

  /** Instance `from` wrote something: it is alive, and if it had been declared gone, it is back. */
  private seen(from: string, now: number): void {
    this.liveness.seen(from, now)
    if (this.declaredGone.delete(from)) this.instanceBack(from)
  }

  /**
   * An instance declared gone was heard from again (its event loop or its connection stalled for longer than the
   * deadline): this instance stopped publishing for it meanwhile, so it asks again who has each of its documents.
   * Each instance that has one answers Here, which sends it a Resync if an update was left unpublished.
   */
  private instanceBack(id: string): void {
    this.logger.info({ instance: id }, 'relay: an instance declared gone is back')
    for (const stream of this.membership.documents()) this.publish(stream, { kind: EntryKind.Query })
  }

  /** An instance of an older version (see {@link legacy}): it is sent everything from now on, and what it missed. */
  private legacyFound(id: string): void {
    this.legacy.add(id)
    this.logger.info(
      { instance: id },
      'relay: an instance of an older version publishes every update; so does this one',
    )
    for (const stream of this.membership.documents()) {
      if (!stream.unpublished) continue
      stream.unpublished = false
      this.publish(stream, { kind: EntryKind.Resync })
    }
  }

  /**
   * Instance `from` has `stream`'s document loaded (it wrote an entry about it). If that is news: anything stored
   * here and not published is asked to be read from the store, and unless `quiet`, this instance's clients are
   * introduced to it (their presence went nowhere so far).
   */
  private loadedElsewhere(stream: DocStream, from: string, quiet: boolean): void {
    if (stream.others.has(from)) return
    stream.others.add(from)
    if (stream.unpublished) {
      stream.unpublished = false
      this.publish(stream, { kind: EntryKind.Resync })
    }
    if (quiet) return
    for (const member of stream.members) this.introduce(stream, member)
  }

  /** Publishes the presence of `member`'s clients, if any. */
  private introduce(stream: DocStream, member: Member): void {
    let present: Uint8Array | null
    try {
      present = member.peer.localAwareness()
    } catch (err) {
      this.logger.error({ doc: stream.docName, err: errorMessage(err) }, 'relay: a room failed')
      return
    }
    if (present) this.publish(stream, { kind: EntryKind.Awareness, data: present })
  }

  private async onPartitionEntries(partition: Partition<DocStream>, entries: Array<[Buffer, Buffer[]]>): Promise<void> {
    const before = partition.position
    const now = Date.now()
    for (const [id, fields] of entries) {
      partition.advance(id.toString())
      const decoded = decodeEntry(fields)
      const { from, doc } = decoded
      if (!from || from === this.instanceId) continue
      // Even an entry this version cannot use says its writer is alive.
      this.seen(from, now)
      const stream = doc === null ? undefined : partition.docs.get(doc)
      if (!stream) continue
      const entry = decoded.ok && 'doc' in decoded.entry ? decoded.entry : null
      if (!decoded.ok) this.logger.warn({ doc, from, error: decoded.error }, 'relay: unusable entry ignored')
      if (entry?.kind === EntryKind.Left) {
        stream.others.delete(from)
        continue
      }
      // Every other entry about a document but a deletion comes from an instance that has it loaded.
      if (entry && entry.kind !== EntryKind.Deleted) this.loadedElsewhere(stream, from, entry.kind === EntryKind.Query)
      // It has just loaded the document: it learns that this instance has it too, whoever is connected here.
      if (entry?.kind === EntryKind.Query) this.publish(stream, { kind: EntryKind.Here })
      for (const member of stream.members) {
        member.heardFrom.add(from)
        if (entry) this.deliver(stream, member, entry)
      }
    }
    // A full batch means this reader is behind; if Redis trimmed entries it had not read yet, they are lost.
    if (entries.length === readCount && before !== null && (await this.trimmedSince(partition.key, before))) {
      for (const stream of partition.docs.values()) {
        this.resyncMembers(stream, 'the stream was trimmed before this instance read it')
        // Which instances loaded or left its documents meanwhile may be among what was trimmed: ask again.
        this.publish(stream, { kind: EntryKind.Query })
      }
    }
  }

  private deliver(stream: DocStream, member: Member, entry: DocEntry): void {
    const { peer } = member
    try {
      switch (entry.kind) {
        case EntryKind.Update:
          peer.update(entry.data)
          return
        case EntryKind.Awareness:
          peer.awareness(entry.from, entry.data)
          return
        case EntryKind.Query:
          this.introduce(stream, member)
          return
        case EntryKind.Here:
        case EntryKind.Left:
          // About the instance, not the room: see onPartitionEntries.
          return
        case EntryKind.Resync:
          peer.resync(`asked by ${entry.from}`)
          return
        case EntryKind.Deleted:
          peer.deleted()
          return
      }
    } catch (err) {
      const { from, kind } = entry
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
      this.declaredGone.add(id)
      if (this.declaredGone.size > maxRememberedGone) {
        this.declaredGone.delete(this.declaredGone.values().next().value as string)
      }
      this.instanceGone(id, true)
    }
    const now = Date.now()
    if (this.options.resyncIntervalMs <= 0) return
    for (const stream of this.membership.documents()) {
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
    this.legacy.delete(id)
    for (const stream of this.membership.documents()) {
      stream.others.delete(id)
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
    for (const stream of this.membership.documents()) {
      // Jittered, so that every instance does not hit the store in the same millisecond after a Redis restart.
      setTimeout(() => this.resyncMembers(stream, 'Redis reconnected'), Math.random() * 250).unref()
    }
  }

  /** What this instance could not publish meanwhile: sent now, and the others asked to check the store. */
  private writerReconnected(): void {
    for (const partition of this.membership.positionUnpositioned()) {
      void partition.positioned.then(() => {
        for (const stream of partition.docs.values()) this.resyncMembers(stream, 'joined while Redis was unreachable')
      })
    }
    for (const stream of this.membership.documents()) {
      if (stream.unsent.length > 0) {
        const merged = Y.mergeUpdates(stream.unsent)
        stream.unsent = []
        stream.unsentBytes = 0
        this.publish(stream, { kind: EntryKind.Update, data: merged })
      }
      this.publish(stream, { kind: EntryKind.Resync })
      // The others may have declared this instance dead meanwhile and removed its clients: introduce them again.
      for (const member of stream.members) {
        const present = member.peer.localAwareness()
        if (present) this.publish(stream, { kind: EntryKind.Awareness, data: present })
      }
      this.publish(stream, { kind: EntryKind.Query })
    }
  }
}

/**
 * Settles when `redis` is ready (at once if it is), from the client's own 'ready' event, or when `signal` aborts
 * (the relay closes). Listeners are removed either way, so the read loop can wait through many outages.
 */
function untilReady(redis: Redis, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (redis.status === 'ready' || signal.aborted) {
      resolve()
      return
    }
    const settle = () => {
      redis.off('ready', settle)
      signal.removeEventListener('abort', settle)
      resolve()
    }
    redis.on('ready', settle)
    signal.addEventListener('abort', settle)
  })
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
