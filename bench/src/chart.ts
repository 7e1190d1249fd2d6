import type { MetricRow } from './metric-row.js'
import { formatValue, targetMet } from './report.js'
import { comparedSystems, type SystemId, systems } from './systems.js'

const colours: Partial<Record<SystemId, string>> = {
  ours: '#2563eb',
  'y-websocket-server': '#f59e0b',
  hocuspocus: '#10b981',
}

const width = 980
const labelWidth = 150
const barArea = 600
const barHeight = 15
const barGap = 3

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/**
 * Each system's score on a row, 1 for the best of the three: value / best when higher is better, best / value
 * when lower is better (values at or below zero count as 1% of the largest, so "nothing left" scores best).
 */
function scores(row: MetricRow): Partial<Record<SystemId, number>> {
  const present = comparedSystems.filter((id) => row.values[id] !== undefined && Number.isFinite(row.values[id]))
  const raw = present.map((id) => row.values[id]!)
  const largest = Math.max(...raw.map(Math.abs), Number.MIN_VALUE)
  const clamp = (v: number) => Math.max(v, largest * 0.01, Number.MIN_VALUE)
  const out: Partial<Record<SystemId, number>> = {}
  if (row.better === 'higher') {
    const best = Math.max(...raw.map(clamp))
    for (const id of present) out[id] = clamp(row.values[id]!) / best
  } else {
    const best = Math.min(...raw.map(clamp))
    for (const id of present) out[id] = best / clamp(row.values[id]!)
  }
  return out
}

/**
 * A grouped bar chart of every judged metric: one group per metric, one bar per system, normalised so the best
 * system's bar is full length and longer is always better; each bar carries its measured value.
 */
export function renderChart(rows: MetricRow[], title: string, subtitle: string): string {
  // Rows without a verdict (figures nothing explains) are not drawn as a comparison either.
  const charted = rows.filter((row) => row.better !== 'info' && !row.noVerdict)
  const groupHeight = 22 + comparedSystems.length * (barHeight + barGap) + 14
  const top = 96
  const height = top + charted.length * groupHeight + 40
  const parts: string[] = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="20" y="32" font-size="20" font-weight="600" fill="#111827">${escapeXml(title)}</text>`,
    `<text x="20" y="54" font-size="12" fill="#4b5563">${escapeXml(subtitle)}</text>`,
    `<text x="20" y="72" font-size="12" fill="#4b5563">Bars are normalised per metric: the best of the three is full length, longer is always better. Labels are the measured medians.</text>`,
  )
  let legendX = 20
  for (const id of comparedSystems) {
    parts.push(
      `<rect x="${legendX}" y="80" width="12" height="12" fill="${colours[id]}"/>`,
      `<text x="${legendX + 16}" y="90" font-size="12" fill="#111827">${escapeXml(systems[id].label)}</text>`,
    )
    legendX += 30 + systems[id].label.length * 7
  }
  charted.forEach((row, index) => {
    const y0 = top + index * groupHeight
    const direction = row.better === 'higher' ? 'higher is better' : 'lower is better'
    const extras = [
      row.target ? `target ${row.target.text}${targetMet(row) ? ' (met)' : ' (not met)'}` : '',
      row.floor ? `floor ${formatValue(row.floor.value, row.unit)}: ${row.floor.what}` : '',
    ].filter(Boolean)
    parts.push(
      `<text x="20" y="${y0 + 14}" font-size="13" fill="#111827"><tspan font-weight="600">${escapeXml(row.workload)}</tspan> · ${escapeXml(row.label)} <tspan fill="#6b7280">(${direction}${extras.length ? `; ${escapeXml(extras.join('; '))}` : ''})</tspan></text>`,
    )
    const score = scores(row)
    comparedSystems.forEach((id, i) => {
      const y = y0 + 22 + i * (barHeight + barGap)
      parts.push(
        `<text x="${labelWidth - 8}" y="${y + barHeight - 3}" font-size="11" text-anchor="end" fill="#374151">${escapeXml(systems[id].label)}</text>`,
      )
      const s = score[id]
      if (s === undefined) {
        parts.push(`<text x="${labelWidth}" y="${y + barHeight - 3}" font-size="11" fill="#9ca3af">no result</text>`)
        return
      }
      const length = Math.max(2, s * barArea)
      parts.push(
        `<rect x="${labelWidth}" y="${y}" width="${length.toFixed(1)}" height="${barHeight}" rx="2" fill="${colours[id]}"/>`,
        `<text x="${(labelWidth + length + 6).toFixed(1)}" y="${y + barHeight - 3}" font-size="11" fill="#111827">${escapeXml(formatValue(row.values[id], row.unit))}</text>`,
      )
    })
  })
  parts.push('</svg>')
  return parts.join('\n')
}
