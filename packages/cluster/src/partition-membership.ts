import { crc32 } from 'node:zlib'

/**
 * Which of the partition streams an instance reads, and from which entry ID.
 *
 * Documents are spread over a fixed number of streams by a hash of their name. An instance reads a partition while
 * at least one of its documents is loaded there, starting after the entry that was newest when the partition was
 * first needed ("positioning"). Rooms publish updates only once stored, so whatever was published up to that entry
 * is in the store, which a joining room reads after its partition is positioned. A partition already being read
 * needs no positioning for a newly loaded document: whatever that document published before the current read
 * position was read before now, and was stored before it was published.
 */

/** Where the partition streams are, and what positioning tells the instance. */
export interface PartitionStreams {
  /** Prefix of every Redis key; a partition's stream is `<prefix>p:<n>`. */
  keyPrefix: string
  /** Streams the documents are spread over. Every instance of a deployment must use the same number. */
  count: number
  /** The ID of the newest entry of a stream, `null` when the stream is empty or absent. */
  newestEntryId(key: string): Promise<string | null>
  /** A partition was positioned: a blocking read already under way must start again to include it. */
  positioned(partition: Partition<unknown>): void
  /**
   * Positioning failed (Redis unreachable): the partition is not read until
   * {@link PartitionMembership.positionUnpositioned} positions it.
   */
  positionFailed(partition: Partition<unknown>, err: unknown): void
}

/** The highest partition count: more streams than this would make each blocking read needlessly large. */
const maxPartitions = 65_536

/** The stream of `docName` among `count` partitions. Instances of every version must agree on it. */
export function partitionKey(keyPrefix: string, count: number, docName: string): string {
  return `${keyPrefix}p:${crc32(docName) % count}`
}

/** One partition stream, read while at least one of its documents is loaded here. Every entry names its document. */
export class Partition<D> {
  private readPosition: string | null = null
  private positioning: Promise<void> = Promise.resolve()
  private expiryRefreshedAt = 0
  /** The loaded documents of this partition, by name. */
  readonly docs: ReadonlyMap<string, D> = new Map()

  constructor(
    readonly key: string,
    private readonly streams: PartitionStreams,
  ) {}

  /** The last entry read, or where reading starts; `null` until positioned (or while positioning failed). */
  get position(): string | null {
    return this.readPosition
  }

  /** Settles once positioned, or once positioning failed. */
  get positioned(): Promise<void> {
    return this.positioning
  }

  /** The reader read the entry `id` of this stream; the next read starts after it. */
  advance(id: string): void {
    this.readPosition = id
  }

  /**
   * Whether to push the stream's expiry back now: at most once per `everyMs`, so that a busy stream costs one
   * PEXPIRE per interval rather than one per entry. A `true` answer counts as done.
   */
  claimExpiryRefresh(now: number, everyMs: number): boolean {
    if (now - this.expiryRefreshedAt <= everyMs) return false
    this.expiryRefreshedAt = now
    return true
  }

  /** Starts reading after the stream's newest entry, once {@link PartitionStreams.newestEntryId} says which it is. */
  startPositioning(): void {
    this.positioning = this.findPosition()
  }

  private async findPosition(): Promise<void> {
    try {
      // An empty stream is read from its start: every entry added from now on comes after.
      this.readPosition = (await this.streams.newestEntryId(this.key)) ?? '0-0'
    } catch (err) {
      this.streams.positionFailed(this, err)
      return
    }
    this.streams.positioned(this)
  }
}

/**
 * The documents loaded by this instance and the partitions it reads for them. `D` is what the relay keeps per
 * document; this class only decides which partition holds it and when a partition is read.
 */
export class PartitionMembership<D> {
  /** Loaded documents by name. */
  private readonly loaded = new Map<string, D>()
  /** Partitions with at least one loaded document, by key. */
  private readonly partitions = new Map<string, Partition<D>>()

  constructor(private readonly streams: PartitionStreams) {
    const { count } = streams
    if (!Number.isInteger(count) || count < 1 || count > maxPartitions) {
      throw new RangeError(`partitions must be a whole number from 1 to ${maxPartitions}, not ${count}`)
    }
  }

  /** The stream of `docName`, whether it is loaded here or not. */
  keyOf(docName: string): string {
    return partitionKey(this.streams.keyPrefix, this.streams.count, docName)
  }

  /** The loaded document `docName`, if any. */
  get(docName: string): D | undefined {
    return this.loaded.get(docName)
  }

  /** Every loaded document. */
  documents(): IterableIterator<D> {
    return this.loaded.values()
  }

  /**
   * The loaded document `docName`, added with `create` (given its partition) when it is not loaded yet. The first
   * document of a partition starts positioning it; wait for {@link Partition.positioned} before reading the store.
   */
  load(docName: string, create: (partition: Partition<D>) => D): D {
    const existing = this.loaded.get(docName)
    if (existing !== undefined) return existing
    const key = this.keyOf(docName)
    let partition = this.partitions.get(key)
    if (!partition) {
      partition = new Partition<D>(key, this.streams)
      this.partitions.set(key, partition)
      partition.startPositioning()
    }
    const doc = create(partition)
    docsOf(partition).set(docName, doc)
    this.loaded.set(docName, doc)
    return doc
  }

  /**
   * Unloads `doc`, if it is still what is loaded as `docName`; its partition stops being read once it holds no
   * loaded document.
   */
  unload(docName: string, doc: D): void {
    if (this.loaded.get(docName) !== doc) return
    this.loaded.delete(docName)
    // A partition is dropped only once empty, so the one read now for this name is the one that holds `doc`.
    const partition = this.partitions.get(this.keyOf(docName))
    if (!partition) return
    docsOf(partition).delete(docName)
    if (partition.docs.size === 0) this.partitions.delete(partition.key)
  }

  /**
   * Whether `partition` is still read: one dropped and made anew meanwhile is another object, with its own
   * position, so entries read for the old one are not applied to it.
   */
  isRead(partition: Partition<D>): boolean {
    return this.partitions.get(partition.key) === partition
  }

  /** The positioned partitions: what the next blocking read asks for, each from its own position. */
  readSet(): Array<{ partition: Partition<D>; position: string }> {
    const reading: Array<{ partition: Partition<D>; position: string }> = []
    for (const partition of this.partitions.values()) {
      if (partition.position !== null) reading.push({ partition, position: partition.position })
    }
    return reading
  }

  /** Starts positioning again every partition that is not positioned (after Redis came back); returns them. */
  positionUnpositioned(): Array<Partition<D>> {
    const unpositioned = [...this.partitions.values()].filter((partition) => partition.position === null)
    for (const partition of unpositioned) partition.startPositioning()
    return unpositioned
  }
}

/** The writable view of a partition's documents, for {@link PartitionMembership} only. */
function docsOf<D>(partition: Partition<D>): Map<string, D> {
  return partition.docs as Map<string, D>
}
