import type { SyncObserver } from '@collab/server'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { StoreMetrics } from './metered-store.js'

/** Live figures the gauges read when scraped. */
export interface LiveFigures {
  rooms(): number
  connections(): number
}

/** Message and byte totals per message kind, kept as plain numbers on the hot path and read at scrape time. */
class Tally {
  readonly messages = new Map<string, number>()
  readonly bytes = new Map<string, number>()

  add(kind: string, bytes: number, count: number): void {
    this.messages.set(kind, (this.messages.get(kind) ?? 0) + count)
    this.bytes.set(kind, (this.bytes.get(kind) ?? 0) + bytes * count)
  }
}

/** Copies a tally into a counter at scrape time. */
function tallyCounter(registry: Registry, name: string, help: string, read: () => Map<string, number>): void {
  new Counter({
    name,
    help,
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset()
      for (const [kind, value] of read()) this.inc({ kind }, value)
    },
  })
}

/**
 * Every metric of the server, in its own registry (several servers in one process, as in tests, do not share
 * one), with the sync engine's observer and the store's instrumentation feeding it. docs/OPERATIONS.md lists them.
 */
export class ServerMetrics implements StoreMetrics {
  readonly registry = new Registry()
  private live: LiveFigures = { rooms: () => 0, connections: () => 0 }
  // Per-message hooks run for every keystroke of every client: they only add to plain numbers.
  private readonly received = new Tally()
  private readonly sent = new Tally()

  private readonly opened: Counter<'access'>
  private readonly closed: Counter<'code'>
  private readonly connectionSeconds: Histogram
  private readonly refused: Counter<'reason' | 'code'>
  private readonly authFailures: Counter<'transport' | 'code'>
  private readonly dropped: Counter
  private readonly roomLoads: Counter<'result'>
  private readonly roomLoadSeconds: Histogram
  private readonly roomUnloads: Counter
  private readonly storeUpdates: Counter
  private readonly storeBytes: Counter
  private readonly storeAppendSeconds: Histogram
  private readonly compactions: Counter
  private readonly compactionSeconds: Histogram
  private readonly storeErrors: Counter<'operation'>
  private readonly httpRequests: Counter<'method' | 'route' | 'status'>
  private readonly httpSeconds: Histogram<'route'>

  /** Hooks for `createSyncServer({ observer })`. */
  readonly observer: SyncObserver

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry]
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry })
    const live = () => this.live
    new Gauge({
      name: 'collab_connections',
      help: 'Open WebSocket connections (including those still authenticating).',
      registers,
      collect() {
        this.set(live().connections())
      },
    })
    new Gauge({
      name: 'collab_rooms',
      help: 'Documents loaded in memory.',
      registers,
      collect() {
        this.set(live().rooms())
      },
    })
    this.opened = new Counter({
      name: 'collab_connections_opened_total',
      help: 'Connections admitted to a document, by access.',
      labelNames: ['access'],
      registers,
    })
    this.closed = new Counter({
      name: 'collab_connections_closed_total',
      help: 'WebSocket connections closed, by close code (1006: terminated without a close frame).',
      labelNames: ['code'],
      registers,
    })
    this.connectionSeconds = new Histogram({
      name: 'collab_connection_duration_seconds',
      help: 'How long WebSocket connections stayed open.',
      buckets: [1, 10, 60, 300, 1800, 3600, 4 * 3600, 24 * 3600],
      registers,
    })
    this.refused = new Counter({
      name: 'collab_connections_refused_total',
      help: 'Connections refused before joining a document, by reason and close code or HTTP status.',
      labelNames: ['reason', 'code'],
      registers,
    })
    this.authFailures = new Counter({
      name: 'collab_auth_failures_total',
      help: 'Refused credentials: WebSocket closes 4401/4403 and HTTP API answers 401/403.',
      labelNames: ['transport', 'code'],
      registers,
    })
    tallyCounter(
      this.registry,
      'collab_messages_received_total',
      'WebSocket messages received, by kind.',
      () => this.received.messages,
    )
    tallyCounter(
      this.registry,
      'collab_received_bytes_total',
      'Bytes of WebSocket messages received, by kind.',
      () => this.received.bytes,
    )
    tallyCounter(
      this.registry,
      'collab_messages_sent_total',
      'WebSocket messages sent, by kind (a broadcast counts once per recipient).',
      () => this.sent.messages,
    )
    tallyCounter(
      this.registry,
      'collab_sent_bytes_total',
      'Bytes of WebSocket messages sent, by kind.',
      () => this.sent.bytes,
    )
    this.dropped = new Counter({
      name: 'collab_updates_dropped_total',
      help: 'Updates from read-only connections, dropped.',
      registers,
    })
    this.roomLoads = new Counter({
      name: 'collab_room_loads_total',
      help: 'Documents loaded into memory, by result (ok, failed).',
      labelNames: ['result'],
      registers,
    })
    this.roomLoadSeconds = new Histogram({
      name: 'collab_room_load_duration_seconds',
      help: 'Time to load a document from storage.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
      registers,
    })
    this.roomUnloads = new Counter({
      name: 'collab_room_unloads_total',
      help: 'Documents flushed and evicted from memory (idle past the grace period, deleted, failed or shut down).',
      registers,
    })
    this.storeUpdates = new Counter({
      name: 'collab_store_updates_total',
      help: 'Updates durably stored.',
      registers,
    })
    this.storeBytes = new Counter({
      name: 'collab_store_appended_bytes_total',
      help: 'Bytes of updates durably stored.',
      registers,
    })
    this.storeAppendSeconds = new Histogram({
      name: 'collab_store_append_duration_seconds',
      help: 'Store write latency: from handing an update to the store until it is durable.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    })
    this.compactions = new Counter({
      name: 'collab_store_compactions_total',
      help: "Compactions: a document's stored updates replaced by one snapshot.",
      registers,
    })
    this.compactionSeconds = new Histogram({
      name: 'collab_store_compaction_duration_seconds',
      help: 'Time to write a compacted snapshot.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    })
    this.storeErrors = new Counter({
      name: 'collab_store_errors_total',
      help: 'Failed store operations, by operation (append, compact).',
      labelNames: ['operation'],
      registers,
    })
    this.httpRequests = new Counter({
      name: 'collab_http_requests_total',
      help: 'HTTP requests answered, by method, route and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    })
    this.httpSeconds = new Histogram({
      name: 'collab_http_request_duration_seconds',
      help: 'Time to answer HTTP requests, by route.',
      labelNames: ['route'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    })
    this.observer = this.createObserver()
  }

  /** Where the connection and room gauges read their figures. */
  watch(live: LiveFigures): void {
    this.live = live
  }

  /** The Prometheus text exposition of every metric. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }

  /** `route` is the request's route label (http-routes.ts): a fixed set, never the request's path. */
  httpAnswered(method: string, route: string, status: number, seconds: number): void {
    // Methods are client input: keep the label set bounded.
    const knownMethod = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'].includes(method) ? method : 'other'
    this.httpRequests.inc({ method: knownMethod, route, status: String(status) })
    this.httpSeconds.observe({ route }, seconds)
  }

  /** A WebSocket upgrade refused by the app server before the engine saw it ([SD1], [SD2]), as the engine counts its own. */
  upgradeRefused(reason: 'host' | 'origin'): void {
    this.refused.inc({ reason, code: '403' })
  }

  httpAuthFailed(status: 401 | 403): void {
    this.authFailures.inc({ transport: 'http', code: String(status) })
  }

  appended(seconds: number, bytes: number): void {
    this.storeUpdates.inc()
    this.storeBytes.inc(bytes)
    this.storeAppendSeconds.observe(seconds)
  }

  compacted(seconds: number): void {
    this.compactions.inc()
    this.compactionSeconds.observe(seconds)
  }

  failed(operation: 'append' | 'compact'): void {
    this.storeErrors.inc({ operation })
  }

  /** Drops the registry's collectors. */
  clear(): void {
    this.registry.clear()
  }

  private createObserver(): SyncObserver {
    return {
      connectionOpened: (access) => this.opened.inc({ access }),
      connectionClosed: (code, durationMs) => {
        this.closed.inc({ code: String(code) })
        this.connectionSeconds.observe(durationMs / 1000)
      },
      connectionRefused: (reason, code) => {
        this.refused.inc({ reason, code: String(code) })
        if (reason === 'auth') this.authFailures.inc({ transport: 'websocket', code: String(code) })
      },
      messageReceived: (kind, bytes) => this.received.add(kind, bytes, 1),
      messagesSent: (kind, bytes, count) => this.sent.add(kind, bytes, count),
      roomLoaded: (ms, ok) => {
        this.roomLoads.inc({ result: ok ? 'ok' : 'failed' })
        if (ok) this.roomLoadSeconds.observe(ms / 1000)
      },
      roomUnloaded: () => this.roomUnloads.inc(),
      updateDropped: () => this.dropped.inc(),
    }
  }
}
