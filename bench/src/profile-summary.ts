import { readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'

/**
 * Where a server's time goes, from the V8 CPU profiles of a run (`BENCH_SERVER_NODE_ARGS="--cpu-prof
 * --cpu-prof-dir=<dir>"`): self time grouped by what the code belongs to, and the functions that take the most.
 *
 *   node dist/profile-summary.js <profile or directory> [more ...] [--top N]
 *
 * Each profile is summarised on its own (one per server process), as a markdown table.
 */

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}
interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

/** What a frame belongs to, from its script's URL (packages by their directory in node_modules or this repository). */
export function categoryOf(frame: CallFrame): string {
  const { url, functionName } = frame
  if (functionName === '(garbage collector)') return 'garbage collection'
  if (functionName === '(idle)') return 'idle'
  if (functionName === '(program)') return 'V8 and native code (program)'
  if (functionName === '(root)') return 'root'
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (inModules) {
    const name = inModules[1]!
    if (/^(classic-level|abstract-level|level|leveldown|levelup|level-transcoder|module-error)$/.test(name)) {
      return 'LevelDB (classic-level, JS side)'
    }
    return name
  }
  const ours = /\/(packages|apps)\/([^/]+)\/(?:dist|src)\/(.+)$/.exec(url)
  if (ours) return `ours: ${ours[1]}/${ours[2]}`
  if (url.startsWith('node:')) {
    if (/^node:(net|stream|internal\/stream|internal\/streams|_stream|internal\/net)/.test(url))
      return 'Node: sockets and streams'
    return 'Node: other internals'
  }
  if (url === '') return functionName ? `native: ${functionName}` : 'native'
  return 'other scripts'
}

/** Self time (ms) per node id. */
function selfTimes(profile: CpuProfile): Map<number, number> {
  const times = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    // Each sample counts for the time since the previous one (timeDeltas[i]); at 1 kHz sampling the difference from
    // counting the time until the next one is noise.
    times.set(id, (times.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
  }
  return times
}

export interface ProfileSummary {
  file: string
  wallMs: number
  busyMs: number
  categories: Array<{ name: string; ms: number }>
  functions: Array<{ name: string; where: string; category: string; ms: number }>
}

export function summarise(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const times = selfTimes(profile)
  const categories = new Map<string, number>()
  const functions = new Map<string, { name: string; where: string; category: string; ms: number }>()
  let busyMs = 0
  for (const [id, ms] of times) {
    const frame = byId.get(id)!.callFrame
    const category = categoryOf(frame)
    if (category === 'idle' || category === 'root') continue
    busyMs += ms
    categories.set(category, (categories.get(category) ?? 0) + ms)
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : ''
    const key = `${frame.functionName}@${where}`
    const entry = functions.get(key) ?? { name: frame.functionName || '(anonymous)', where, category, ms: 0 }
    entry.ms += ms
    functions.set(key, entry)
  }
  return {
    file,
    wallMs: (profile.endTime - profile.startTime) / 1000,
    busyMs,
    categories: [...categories].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms),
    functions: [...functions.values()].sort((a, b) => b.ms - a.ms).slice(0, top),
  }
}

function shortUrl(url: string): string {
  const modules = url.lastIndexOf('node_modules/')
  if (modules >= 0) return url.slice(modules + 'node_modules/'.length)
  const repo = /\/((?:packages|apps)\/.+)$/.exec(url)
  if (repo) return repo[1]!
  return url.replace(/^file:\/\//, '')
}

export function renderSummary(s: ProfileSummary): string {
  const pct = (ms: number) => `${((ms / s.busyMs) * 100).toFixed(1)}%`
  const lines = [
    `### ${basename(s.file)}`,
    '',
    `${(s.wallMs / 1000).toFixed(1)} s profiled, ${(s.busyMs / 1000).toFixed(2)} s busy (${((s.busyMs / s.wallMs) * 100).toFixed(0)}% of a core).`,
    '',
    '| what | self time | of busy |',
    '|---|--:|--:|',
    ...s.categories
      .filter((c) => c.ms / s.busyMs >= 0.005)
      .map((c) => `| ${c.name} | ${c.ms.toFixed(0)} ms | ${pct(c.ms)} |`),
    '',
    '| function | where | self time | of busy |',
    '|---|---|--:|--:|',
    ...s.functions.map((f) => `| \`${f.name}\` | ${f.where || f.category} | ${f.ms.toFixed(0)} ms | ${pct(f.ms)} |`),
    '',
  ]
  return lines.join('\n')
}

function profilesIn(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path]
  return readdirSync(path)
    .filter((name) => name.endsWith('.cpuprofile'))
    .sort()
    .map((name) => join(path, name))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2)
  const topAt = args.indexOf('--top')
  const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 15
  if (args.length === 0 || !Number.isInteger(top) || top <= 0) {
    console.error('usage: node dist/profile-summary.js <profile.cpuprofile or directory> [...] [--top N]')
    process.exit(2)
  }
  for (const path of args) {
    for (const file of profilesIn(path)) console.log(renderSummary(summarise(file, top)))
  }
}
