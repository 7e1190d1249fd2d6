import { type ChildProcess, spawn } from 'node:child_process'
import { tasksetPath } from './server-process.js'

/** Every message a client process sends has a type; `error` reports a request that failed. */
export interface ProcessEvent {
  type: string
}

interface Waiter {
  type: string
  resolve(event: ProcessEvent): void
  reject(err: Error): void
}

/**
 * A bench script running as a process of its own on the load generator's core (core 1), driven over IPC: for
 * clients whose work must not share an event loop with the load generator's (a heap holding the whole trace, a
 * flooder's sends) or with each other. Requests go out with {@link ClientProcess.send}; what the process sends
 * back is kept in order and taken by type, so an event that arrives before anyone waits for it is not lost. An
 * event `{ type: 'error', message }` rejects whoever is waiting at that moment.
 */
export class ClientProcess<Request, Event extends ProcessEvent> {
  private readonly child: ChildProcess
  private readonly events: Event[] = []
  private untaken: Event[] = []
  private waiters: Waiter[] = []
  private exited: Error | null = null

  constructor(
    /** The compiled script, as a path. */
    script: string,
    options: {
      /**
       * How much lower than the load generator's its scheduling priority is (a `nice` increment): a process that
       * would otherwise take turns on the core with the clients that measure, and delay their timers and reads.
       */
      lowerPriorityBy?: number
    } = {},
  ) {
    const node = [process.execPath, script]
    const pinned = tasksetPath ? [tasksetPath, '-c', '1', ...node] : node
    const command = options.lowerPriorityBy ? ['nice', '-n', String(options.lowerPriorityBy), ...pinned] : pinned
    this.child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.child.on('message', (event: Event) => this.receive(event))
    this.child.once('exit', (code, signal) => this.end(new Error(`${script} exited (${signal ?? `code ${code}`})`)))
    // A process that could not be started (or signalled) reports it here rather than through 'exit'.
    this.child.on('error', (err) => this.end(new Error(`${script}: ${err.message}`)))
  }

  send(request: Request): void {
    if (this.exited) throw this.exited
    this.child.send(request as object)
  }

  /** Every event of `type` received so far, taken or not. */
  all<K extends Event['type']>(type: K): Array<Extract<Event, { type: K }>> {
    return this.events.filter((event): event is Extract<Event, { type: K }> => event.type === type)
  }

  /** The first event of `type` not yet taken, waiting for it up to `timeoutMs`. */
  take<K extends Event['type']>(type: K, timeoutMs: number): Promise<Extract<Event, { type: K }>> {
    const index = this.untaken.findIndex((event) => event.type === type)
    if (index >= 0) return Promise.resolve(this.untaken.splice(index, 1)[0] as Extract<Event, { type: K }>)
    if (this.exited) return Promise.reject(this.exited)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        reject(new Error(`no ${type} from the client process after ${timeoutMs} ms`))
      }, timeoutMs)
      const waiter: Waiter = {
        type,
        resolve: (event) => {
          clearTimeout(timer)
          resolve(event as Extract<Event, { type: K }>)
        },
        reject: (err) => {
          clearTimeout(timer)
          reject(err)
        },
      }
      this.waiters.push(waiter)
    })
  }

  close(): void {
    this.child.kill()
  }

  private receive(event: Event): void {
    this.events.push(event)
    if (event.type === 'error') {
      const message = 'message' in event ? String(event.message) : 'unknown error'
      for (const waiter of this.waiters.splice(0)) waiter.reject(new Error(message))
      return
    }
    const waiter = this.waiters.find((w) => w.type === event.type)
    if (!waiter) {
      this.untaken.push(event)
      return
    }
    this.waiters = this.waiters.filter((w) => w !== waiter)
    waiter.resolve(event)
  }

  private end(reason: Error): void {
    this.exited ??= reason
    for (const waiter of this.waiters.splice(0)) waiter.reject(reason)
  }
}
