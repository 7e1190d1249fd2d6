import { type ClientFlavour, SyncClient } from './client.js'
import { KeystrokeArrivals, KeystrokeSequence } from './keystrokes.js'

/** Keystrokes made in advance for every writer: 40 minutes' worth at 5 a second, more than any workload takes. */
const keystrokesPerWriter = 12_000

/** One room: a writer typing at the rooms' rate and two readers noting when each keystroke arrives. */
export interface TypingRoom {
  writer: SyncClient
  readers: SyncClient[]
  /** Keystrokes sent. */
  sent: number
  arrivals: KeystrokeArrivals[]
  /** When the next keystroke is due. */
  due: number
}

/**
 * Rooms of three clients, one typing at a steady rate and two reading, as the capacity and recovery workloads load a
 * server. Every keystroke's latency at every reader goes to `onArrival`, matched by clock (keystrokes.ts); every
 * keystroke sent goes to `onSent` with the number of readers that should receive it.
 */
export class TypingRooms {
  readonly rooms: TypingRoom[] = []
  /** Also the clients of rooms still connecting when a workload gave up on them. */
  readonly everyClient: SyncClient[] = []
  private readonly keystrokes = new KeystrokeSequence(keystrokesPerWriter)
  private intervalMs: number
  /** Rooms ever made: a room added after a shrink gets a new document, never one that already holds text. */
  private made = 0
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly prefix: string,
    private readonly flavour: ClientFlavour,
    keystrokesPerSecond: number,
    private readonly onArrival: (latencyMs: number, sentAt: number) => void,
    private readonly onSent: (readers: number, at: number) => void = () => {},
  ) {
    this.intervalMs = 1000 / keystrokesPerSecond
  }

  /**
   * Changes every writer's rate from its next keystroke on, the rooms' keystrokes spread evenly over the new interval
   * again. (Keeping each room's next due time when slowing down left every room's next keystroke within the old,
   * shorter interval: after the recovery workload's overload at 10x, all 200 rooms typed within the same 20 ms of
   * every 200 ms, and keystroke p50 stayed 3-4x its level before the overload for every system, the raw ws relay
   * included: 0.2 -> 0.7-0.8 ms with its core at 4%.)
   */
  setRate(keystrokesPerSecond: number): void {
    const intervalMs = 1000 / keystrokesPerSecond
    const now = performance.now()
    for (const room of this.rooms) room.due = now + Math.random() * intervalMs
    this.intervalMs = intervalMs
  }

  /** Starts typing; rooms added later type from the moment they joined. */
  start(): void {
    if (this.timer) return
    const tick = () => {
      const now = performance.now()
      for (const room of this.rooms) {
        if (room.due > now || room.sent >= this.keystrokes.length) continue
        const clock = room.sent++
        for (const arrivals of room.arrivals) arrivals.sent(clock, now)
        room.writer.sendUpdate(this.keystrokes.update(clock))
        this.onSent(room.readers.length, now)
        room.due += this.intervalMs
        // A load generator that fell behind skips the backlog instead of bursting it, in whole intervals: every
        // room keeps its phase. (Moving every late room to now + interval put all of them on the same tick after a
        // stall of the load generator, a burst that then recurred every interval.)
        if (room.due < now) room.due += Math.ceil((now - room.due) / this.intervalMs) * this.intervalMs
      }
      this.timer = setTimeout(tick, 2)
    }
    tick()
  }

  /**
   * Adds one room, its clients at `urlFor(roomIndex)` (called once per client, so a balancer can place each), and
   * resolves once all three are connected (and synced, for a flavour with a handshake).
   */
  async add(urlFor: (roomIndex: number) => string): Promise<void> {
    const index = this.made++
    const name = `${this.prefix}-${index}`
    const writer = new SyncClient(urlFor(index), name, this.flavour)
    const readers = [0, 1].map(() => new SyncClient(urlFor(index), name, this.flavour))
    this.everyClient.push(writer, ...readers)
    const arrivals = readers.map((reader) => {
      const arrivals = new KeystrokeArrivals(this.keystrokes, this.onArrival)
      reader.onUpdate = (update, kind, at) => {
        if (kind === 'update') arrivals.received(update, at)
      }
      return arrivals
    })
    for (const client of [writer, ...readers]) {
      await client.opened
      if (this.flavour.handshake) await client.whenSynced()
    }
    // Spread the rooms' keystrokes evenly over the interval.
    this.rooms.push({ writer, readers, sent: 0, arrivals, due: performance.now() + Math.random() * this.intervalMs })
  }

  /** Drops the rooms past the first `count`, their clients terminated. */
  shrinkTo(count: number): void {
    for (const room of this.rooms.splice(count))
      for (const client of [room.writer, ...room.readers]) client.ws.terminate()
  }

  /** Stops typing; the clients stay connected, so keystrokes under way still arrive. */
  pause(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  /** Stops typing and terminates every client. */
  stop(): void {
    this.pause()
    this.shrinkTo(0)
    for (const client of this.everyClient) client.ws.terminate()
  }
}
