// What happened to the processes and connections of one measurement, besides its figures: whether every server
// process it started was still alive when the bench stopped it, the close codes of the load generator's
// connections, and the acknowledgements they received. A measurement where a server died or a connection closed
// without the bench closing it (or stopping its server) measured the failure, not the system: the orchestrator
// records it as failed with the cause from `failureCause`.

/** One server process started during a measurement, as `startSystem` reports it. */
export interface WatchedServer {
  system: string
  pid: number
  port: number
  /** Set once the bench asked it to stop (SIGTERM, SIGKILL at a time-out, or a deliberate kill). */
  stopRequested: boolean
  /** Set when it exited: its exit code or the signal that ended it. */
  exit: { code: number | null; signal: string | null } | null
  /** Its last printed lines (stdout and stderr together), oldest first. */
  lastLines(): string[]
}

/** A server's state at the end of a measurement, as kept in the results. */
export interface ServerHealth {
  system: string
  pid: number
  /** True unless it exited before the bench asked it to stop. */
  alive: boolean
  /** How it exited, when it died on its own. */
  exit?: { code: number | null; signal: string | null }
}

/** What one measurement saw besides its figures; kept in the results for every measurement. */
export interface MeasurementHealth {
  servers: ServerHealth[]
  /** Connections the server side closed (not the bench, not a server the bench stopped): count per close code. */
  unexpectedCloses: Record<string, number>
  /** Connections closed because the bench stopped their server (a restart): count per close code. */
  closesByServerStop: Record<string, number>
  /** Acknowledgements the load generator's clients received (ours: `saved`; Hocuspocus: SyncStatus). */
  acknowledgements: number
  /** Why the measurement counts as failed, when it does. */
  failure?: string
}

/** The measurement under way: servers and clients created meanwhile report to it. */
export class Measurement {
  readonly servers: WatchedServer[] = []
  readonly unexpectedCloses = new Map<number, number>()
  readonly closesByServerStop = new Map<number, number>()
  acknowledgements = 0

  /** A connection to `port` closed with `code`; `byClient` when the bench closed it itself. */
  connectionClosed(port: number, code: number, byClient: boolean): void {
    if (byClient) return
    // The most recent server on that port (a restarted server reuses its port).
    const server = this.servers.findLast((candidate) => candidate.port === port)
    const tally = server?.stopRequested ? this.closesByServerStop : this.unexpectedCloses
    tally.set(code, (tally.get(code) ?? 0) + 1)
  }

  /** Why this measurement failed (a server died, a connection closed), or null when nothing did. */
  failureCause(): string | null {
    const causes: string[] = []
    for (const server of this.servers) {
      if (server.exit && !server.stopRequested) {
        const how = server.exit.signal ? `signal ${server.exit.signal}` : `code ${server.exit.code}`
        causes.push(`${server.system} server exited (${how})`)
      }
    }
    const closed = [...this.unexpectedCloses.values()].reduce((sum, n) => sum + n, 0)
    if (closed > 0) {
      const codes = [...this.unexpectedCloses].map(([code, n]) => `${code} x${n}`).join(', ')
      causes.push(`${closed} connection${closed === 1 ? '' : 's'} closed (codes ${codes})`)
    }
    return causes.length > 0 ? causes.join('; ') : null
  }

  health(): MeasurementHealth {
    const failure = this.failureCause()
    return {
      servers: this.servers.map((server) => {
        const died = server.exit !== null && !server.stopRequested
        return {
          system: server.system,
          pid: server.pid,
          alive: !died,
          ...(died && server.exit ? { exit: server.exit } : {}),
        }
      }),
      unexpectedCloses: Object.fromEntries(this.unexpectedCloses),
      closesByServerStop: Object.fromEntries(this.closesByServerStop),
      acknowledgements: this.acknowledgements,
      ...(failure === null ? {} : { failure }),
    }
  }

  /** Every server's last lines, each under a header naming it and how it ended. */
  serverLog(): string {
    return this.servers
      .map((server) => {
        const ended = server.exit
          ? `exited (${server.exit.signal ? `signal ${server.exit.signal}` : `code ${server.exit.code}`})${server.stopRequested ? ' after the bench stopped it' : ' on its own'}`
          : 'still running'
        return [`== ${server.system} pid ${server.pid} port ${server.port}: ${ended}`, ...server.lastLines()].join('\n')
      })
      .join('\n\n')
  }
}

let current: Measurement | null = null

/** Starts watching a new measurement (the orchestrator, around each one). */
export function beginMeasurement(): Measurement {
  current = new Measurement()
  return current
}

/** Stops watching: servers and clients created from now on report to no measurement. */
export function endMeasurement(): void {
  current = null
}

/** The measurement under way, if any: servers and clients keep it from their creation. */
export function currentMeasurement(): Measurement | null {
  return current
}
