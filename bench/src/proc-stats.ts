import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

let clockTicks: number | undefined

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 on Linux almost everywhere). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch (err) {
      console.warn(`getconf CLK_TCK failed (${err instanceof Error ? err.message : err}); assuming 100`)
      clockTicks = 100
    }
  }
  return clockTicks
}

/**
 * CPU seconds of /proc/<pid>/stat: its own (utime + stime) and, with `children`, also that of its children that
 * exited and were waited for (cutime + cstime).
 */
function statCpuSeconds(pid: number | 'self', children: boolean): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may contain spaces; the fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime, stime, cutime and cstime are fields 14 to 17 of the whole line, so 11 to 14 after the name.
  const own = Number(fields[11]) + Number(fields[12])
  return (children ? own + Number(fields[13]) + Number(fields[14]) : own) / ticksPerSecond()
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(pid, false)
}

/**
 * CPU seconds (user + system) used so far by a process and everything under it: its own time, its children that
 * exited (cutime, cstime) and its live descendants (/proc/<pid>/task/<pid>/children). For services such as
 * PostgreSQL, whose work happens in backends forked by the postmaster. 0 once the process is gone.
 */
export function treeCpuSeconds(pid: number): number {
  let total: number
  try {
    total = statCpuSeconds(pid, true)
  } catch {
    return 0
  }
  let children: string[] = []
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean)
  } catch {
    // Exited meanwhile, or a kernel without CONFIG_PROC_CHILDREN: its own time is what there is.
  }
  for (const child of children) total += treeCpuSeconds(Number(child))
  return total
}

/** Resident memory now and its high-water mark since the process started, in bytes, from /proc/<pid>/status. */
export function memoryOf(pid: number): { rss: number; peakRss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
  return { rss: kb('VmRSS') * 1024, peakRss: kb('VmHWM') * 1024 }
}

/** Total size of the files under `dir`, in bytes. */
export function dirBytes(dir: string): number {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    total += entry.isDirectory() ? dirBytes(path) : statSync(path).size
  }
  return total
}

/** Measures this process's CPU use over a window, as a fraction of one core. */
export function startCpuWindow(pid?: number): () => { seconds: number; fraction: number } {
  const wallStart = performance.now()
  const start = pid === undefined ? process.cpuUsage() : cpuSeconds(pid)
  return () => {
    const wall = (performance.now() - wallStart) / 1000
    const used =
      pid === undefined
        ? (() => {
            const usage = process.cpuUsage(start as NodeJS.CpuUsage)
            return (usage.user + usage.system) / 1e6
          })()
        : cpuSeconds(pid) - (start as number)
    return { seconds: used, fraction: wall > 0 ? used / wall : 0 }
  }
}

/** The 1-minute load average (runnable processes); the bench itself keeps one or two busy. */
export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0])
}

/** The kernel's count of connections dropped because a listen backlog was full (TcpExt ListenOverflows). */
export function listenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n')
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]!.split(' ')
    if (names[0] !== 'TcpExt:') continue
    const index = names.indexOf('ListenOverflows')
    return index < 0 ? 0 : Number(lines[i + 1]!.split(' ')[index])
  }
  return 0
}

/** Busy time of all cores so far, in seconds of one core (from /proc/stat; idle and iowait excluded). */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!
  // cpu user nice system idle iowait irq softirq steal ...
  const [, ...fields] = line.trim().split(/\s+/)
  const ticks = fields.map(Number)
  const total = ticks.slice(0, 8).reduce((sum, t) => sum + t, 0)
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0)
  return (total - idle) / ticksPerSecond()
}

/**
 * CPU seconds used by this process and by its children that have exited (the servers and client processes it
 * started and stopped): utime, stime, cutime and cstime of /proc/self/stat.
 */
export function benchCpuSeconds(): number {
  return statCpuSeconds('self', true)
}

/**
 * Starts watching how much CPU other processes use; the returned function gives the average since, in cores.
 * Children of this process still running when it is called are counted as others until they exit.
 */
export function watchOtherProcesses(): () => number {
  const started = performance.now()
  const machine = machineBusySeconds()
  const bench = benchCpuSeconds()
  return () => {
    const seconds = (performance.now() - started) / 1000
    const others = machineBusySeconds() - machine - (benchCpuSeconds() - bench)
    return seconds > 0 ? Math.max(0, others) / seconds : 0
  }
}
