import type { DocStore } from '@collab/storage'
import type { Logger } from 'pino'
import type { SyncObserver } from './observer.js'
import { Room, type RoomContext } from './room.js'

/**
 * The loaded documents: one room per name, the grace period before an idle room unloads, and the chain of unloads
 * and deletions a new room of the same name waits for, so a load never reads what an unload is still writing and a
 * deleted name stays blocked until storage has deleted it ([DL1]).
 */
export class RoomRegistry {
  private readonly rooms = new Map<string, Room>()
  /** Unloads and deletions still running, per name; the next room of that name loads after it. */
  private readonly settling = new Map<string, Promise<void>>()
  private readonly idleTimers = new Map<Room, NodeJS.Timeout>()
  private readonly context: RoomContext

  constructor(
    context: Omit<RoomContext, 'onIdle'>,
    private readonly options: { store: DocStore; logger: Logger; observer: SyncObserver; roomGraceMs: number },
  ) {
    this.context = { ...context, onIdle: (room) => this.onIdle(room) }
  }

  get size(): number {
    return this.rooms.size
  }

  get(name: string): Room | undefined {
    return this.rooms.get(name)
  }

  all(): Room[] {
    return [...this.rooms.values()]
  }

  /** What a new room of `name` must wait for, if anything. */
  settled(name: string): Promise<void> | undefined {
    return this.settling.get(name)
  }

  /** The live room of a document, created (and loading) if there is none. */
  roomFor(name: string): Room {
    const existing = this.rooms.get(name)
    if (existing?.isLive) {
      this.cancelIdle(existing)
      return existing
    }
    const room = new Room(name, this.context, this.settling.get(name))
    this.rooms.set(name, room)
    return room
  }

  /** A room with no connections: unloaded after the grace period, or at once when it failed. */
  onIdle(room: Room): void {
    if (!room.isLive) {
      void this.unload(room)
      return
    }
    if (this.idleTimers.has(room)) return
    const timer = setTimeout(() => {
      this.idleTimers.delete(room)
      if (room.connections.size === 0) void this.unload(room)
    }, this.options.roomGraceMs)
    timer.unref()
    this.idleTimers.set(room, timer)
  }

  private cancelIdle(room: Room): void {
    const timer = this.idleTimers.get(room)
    if (timer) clearTimeout(timer)
    this.idleTimers.delete(room)
  }

  /** Unloads a room (its connections must be gone); the next room of its name waits for this. */
  unload(room: Room, options: { compact?: boolean } = {}): Promise<void> {
    this.cancelIdle(room)
    if (this.rooms.get(room.name) === room) this.rooms.delete(room.name)
    const started = performance.now()
    return this.chain(room.name, async () => {
      await room.unload(options)
      // Nothing of the document stays in this process once its room is gone.
      await this.options.store.forget?.(room.name)
      const ms = performance.now() - started
      this.options.observer.roomUnloaded?.(ms)
      this.options.logger.info({ doc: room.name, ms: Math.round(ms) }, 'room unloaded')
    })
  }

  /**
   * Deletes a document ([DL1]): its room (whose connections the caller closed) unloads without compacting, then
   * the store removes it and keeps its state vector as a tombstone ([DL2]). Until then the name is blocked: a room
   * created meanwhile loads afterwards, and finds the document gone. Resolves to whether it existed.
   */
  delete(name: string): Promise<boolean> {
    const room = this.rooms.get(name)
    const stateVector = room?.stateVector() ?? undefined
    if (room) void this.unload(room, { compact: false })
    let existed = false
    const deleted = this.chain(name, async () => {
      existed = room !== undefined || (await this.options.store.load(name)).length > 0
      await this.options.store.delete(name, stateVector)
    })
    return deleted.then(() => existed)
  }

  /** Runs `step` after whatever of `name` is still settling, as the new last step. */
  private chain(name: string, step: () => Promise<void>): Promise<void> {
    const previous = this.settling.get(name)
    const next: Promise<void> = (previous ?? Promise.resolve()).catch(() => undefined).then(step)
    const settled = next
      .catch(() => undefined)
      .finally(() => {
        if (this.settling.get(name) === settled) this.settling.delete(name)
      })
    this.settling.set(name, settled)
    return next
  }

  /** Unloads every room (shutdown), compacting what each wrote. */
  async unloadAll(): Promise<void> {
    await Promise.all(this.all().map((room) => this.unload(room)))
    await Promise.all(this.settling.values())
  }
}
