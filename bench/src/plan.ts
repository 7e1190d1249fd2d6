import type { Placement } from './workloads/capacity.js'

/** Sizes and durations of one run; `--quick` shrinks everything for development. */
export interface Plan {
  quick: boolean
  /** Trace whose updates the ingest and cold-load workloads store. */
  trace: string
  /** Repetitions per workload; each repetition runs every system once, in the same order. */
  rounds: {
    ingest: number
    coldLoad: number
    relay: number
    capacity: number
    idle: number
    storm: number
    awareness: number
    clusterRelay: number
    clusterCapacity: number
    fastClient: number
    flood: number
    ot: number
    /** Version history (ours only). */
    history: number
    recovery: number
    scaling: number
    /** HTTP transport (ours only). */
    httpTransport: number
    browser: number
  }
  relay: { readers: number[]; keystrokesPerSecond: number; warmupMs: number; measureMs: number }
  capacity: {
    keystrokesPerSecond: number
    startRooms: number
    maxRooms: number
    settleMs: number
    windowMs: number
    p99LimitMs: number
    /** Server CPU (fraction of its core) at which it counts as saturated. */
    cpuLimit: number
  }
  idle: { rooms: number }
  storm: { clients: number; rooms: number }
  awareness: { clients: number; windowMs: number; renewMs: number }
  /**
   * Several instances on Redis and PostgreSQL: relay latency with the readers on another instance than the writer,
   * and capacity (as `capacity`) with clients spread over the instances, for each instance count.
   */
  cluster: {
    readers: number
    instances: number[]
    /** Capacity runs: instance count and how clients are placed on the instances (see capacity.ts). */
    capacity: Array<{ instances: number; placement: Placement }>
  }
  /** A stock client replaying the first `updates` transactions of the trace at once (issue 12). */
  fastClient: { updates: number }
  /** Honest pairs typing every `everyMs`, for `windowMs` without a flood and `windowMs` with one. */
  flood: { everyMs: number; warmupMs: number; windowMs: number; settleMs: number }
  /**
   * Rooms of three typing at `keystrokesPerSecond`; for `overloadMs` every writer types `overloadFactor` times as
   * fast; then latency by `bucketMs` of send time for `afterMs` (see workloads/recovery.ts).
   */
  recovery: {
    rooms: number
    keystrokesPerSecond: number
    overloadFactor: number
    settleMs: number
    baselineMs: number
    overloadMs: number
    afterMs: number
    bucketMs: number
  }
  /**
   * Rooms of three typing at `keystrokesPerSecond`, at `baseRooms` times each factor (see workloads/scaling.ts); then
   * cold loads of the trace's first `coldLoadUpdates` updates and of the whole trace.
   */
  scaling: {
    baseRooms: number
    factors: number[]
    keystrokesPerSecond: number
    settleMs: number
    windowMs: number
    coldLoadUpdates: number[]
  }
  /**
   * HTTP transport (issue 18, see workloads/http-transport.ts), ours only: `readers` readers of one writer typing
   * `keystrokesPerSecond`, counted over `measureMs` after `warmupMs`, on HTTP and on WebSocket; then `docs` documents
   * of `clientsPerDoc` clients, one typing `costKeystrokesPerSecond`, server CPU over `windowMs` after `settleMs`.
   */
  httpTransport: {
    readers: number
    keystrokesPerSecond: number
    warmupMs: number
    measureMs: number
    docs: number
    clientsPerDoc: number
    costKeystrokesPerSecond: number
    settleMs: number
    windowMs: number
  }
  /**
   * Keystroke to another tab in Chromium (issue 19, see workloads/browser.ts): `keystrokes` characters typed with
   * real key events `delayMs` apart.
   */
  browser: { keystrokes: number; delayMs: number }
  /**
   * @codemirror/collab clients (issue 15), ours only: `pushClients` lagging clients pushing one-character updates
   * on a `docChars` document, each based on a version up to `maxLag` behind, counted over `windowMs` after
   * `warmupMs`; then `echoClients` clients typing a character every `typeEveryMs`, measured for `echoMeasureMs`
   * after `echoWarmupMs`; then the relay workload with `relayReaders` readers on a document no OT client opened.
   */
  ot: {
    pushClients: number
    docChars: number
    maxLag: number
    warmupMs: number
    windowMs: number
    echoClients: number
    typeEveryMs: number
    echoWarmupMs: number
    echoMeasureMs: number
    relayReaders: number
  }
}

export const fullPlan: Plan = {
  quick: false,
  trace: 'automerge-paper',
  // Within 10 minutes on 2 cores: y-websocket-server's ingest alone takes about 25 s a round.
  rounds: {
    ingest: 2,
    coldLoad: 3,
    relay: 3,
    capacity: 1,
    idle: 2,
    storm: 3,
    awareness: 2,
    clusterRelay: 3,
    clusterCapacity: 1,
    fastClient: 3,
    flood: 2,
    ot: 2,
    history: 2,
    recovery: 2,
    scaling: 2,
    httpTransport: 2,
    browser: 3,
  },
  relay: { readers: [50, 200], keystrokesPerSecond: 50, warmupMs: 3_000, measureMs: 6_000 },
  capacity: {
    keystrokesPerSecond: 5,
    startRooms: 200,
    maxRooms: 2_400,
    settleMs: 1_000,
    windowMs: 2_000,
    p99LimitMs: 50,
    cpuLimit: 0.95,
  },
  idle: { rooms: 1_000 },
  storm: { clients: 1_000, rooms: 100 },
  // y-protocols clients renew their awareness state every 15 s (half its 30 s timeout) even when idle.
  awareness: { clients: 100, windowMs: 6_000, renewMs: 15_000 },
  cluster: {
    readers: 50,
    instances: [1, 2],
    capacity: [
      { instances: 1, placement: 'round-robin' },
      { instances: 2, placement: 'round-robin' },
      { instances: 2, placement: 'by-document' },
    ],
  },
  fastClient: { updates: 50_000 },
  flood: { everyMs: 20, warmupMs: 1_000, windowMs: 8_000, settleMs: 2_000 },
  // 200 rooms at 5 keystrokes a second is a quarter of what each server compared holds; times 10 (10,000
  // keystrokes and 20,000 deliveries a second) is more than any of them relays on one core.
  recovery: {
    rooms: 200,
    keystrokesPerSecond: 5,
    overloadFactor: 10,
    settleMs: 3_000,
    baselineMs: 3_000,
    overloadMs: 10_000,
    afterMs: 5_000,
    bucketMs: 500,
  },
  // 400 rooms (2,000 keystrokes and 4,000 deliveries a second) is below what every compared server holds.
  scaling: {
    baseRooms: 100,
    factors: [1, 2, 4],
    keystrokesPerSecond: 5,
    settleMs: 1_000,
    windowMs: 3_000,
    coldLoadUpdates: [10_000, 50_000],
  },
  // 10 keystrokes a second is a fast typist: every one is a poll answered and a new poll per HTTP reader. 50 documents
  // of 4 clients are issue 18's 200 HTTP clients; at 5 keystrokes a second, 750 deliveries a second.
  httpTransport: {
    readers: 50,
    keystrokesPerSecond: 10,
    warmupMs: 1_000,
    measureMs: 5_000,
    docs: 50,
    clientsPerDoc: 4,
    costKeystrokesPerSecond: 5,
    settleMs: 2_000,
    windowMs: 5_000,
  },
  // The e2e latency test's 200 characters, 25 ms apart (a fast typist; Playwright's key events add a little).
  browser: { keystrokes: 200, delayMs: 25 },
  ot: {
    pushClients: 8,
    docChars: 100_000,
    maxLag: 100,
    warmupMs: 1_000,
    windowMs: 5_000,
    echoClients: 50,
    typeEveryMs: 200,
    echoWarmupMs: 1_000,
    echoMeasureMs: 5_000,
    relayReaders: 50,
  },
}

export const quickPlan: Plan = {
  quick: true,
  trace: 'sveltecomponent',
  rounds: {
    ingest: 1,
    coldLoad: 1,
    relay: 1,
    capacity: 1,
    idle: 1,
    storm: 1,
    awareness: 1,
    clusterRelay: 1,
    clusterCapacity: 1,
    fastClient: 1,
    flood: 1,
    ot: 1,
    history: 1,
    recovery: 1,
    scaling: 1,
    httpTransport: 1,
    browser: 1,
  },
  relay: { readers: [50, 200], keystrokesPerSecond: 50, warmupMs: 500, measureMs: 2_000 },
  capacity: { ...fullPlan.capacity, startRooms: 50, maxRooms: 200, windowMs: 1_500, settleMs: 500 },
  idle: { rooms: 200 },
  storm: { clients: 200, rooms: 20 },
  awareness: { clients: 100, windowMs: 3_000, renewMs: 15_000 },
  cluster: fullPlan.cluster,
  fastClient: fullPlan.fastClient,
  flood: { ...fullPlan.flood, windowMs: 3_000 },
  recovery: { ...fullPlan.recovery, overloadMs: 3_000, afterMs: 3_000 },
  scaling: { ...fullPlan.scaling, baseRooms: 50, windowMs: 2_000, coldLoadUpdates: [1_000, 5_000] },
  httpTransport: { ...fullPlan.httpTransport, measureMs: 3_000, settleMs: 1_000, windowMs: 3_000 },
  ot: { ...fullPlan.ot, windowMs: 3_000, echoMeasureMs: 3_000 },
  browser: { keystrokes: 100, delayMs: 25 },
}
