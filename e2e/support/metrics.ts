/** The server's `/metrics` text (Prometheus exposition format). */
export async function scrapeMetrics(serverUrl: string): Promise<string> {
  const res = await fetch(`${serverUrl}/metrics`)
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`)
  return res.text()
}

/** The sum of a metric's samples whose labels include `labels` (all of its samples by default). */
export function metricSum(exposition: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1))
    }
  }
  return sum
}
