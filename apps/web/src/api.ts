import { currentToken } from './auth.js'

/** One stored document, as `GET /api/docs` lists it. */
export interface DocSummary {
  name: string
  /** Bytes stored on the server. */
  bytes: number
  /** When the document was last written, ms since the epoch (0 if unknown). */
  updatedAt: number
}

/** The documents on the server (those the token opens), most recently changed first. */
export async function fetchDocs(signal?: AbortSignal): Promise<DocSummary[]> {
  const token = await currentToken()
  const response = await fetch('/api/docs', {
    signal: signal ?? null,
    headers: { accept: 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
  })
  if (response.status === 401) throw new Error('this server requires sign-in to list documents')
  if (!response.ok) throw new Error(`GET /api/docs answered ${response.status}`)
  const body: unknown = await response.json()
  const docs = (body as { docs?: unknown }).docs
  if (!Array.isArray(docs)) throw new Error('GET /api/docs answered without a docs array')
  return docs.filter(isDocSummary).sort((a, b) => b.updatedAt - a.updatedAt)
}

function isDocSummary(value: unknown): value is DocSummary {
  if (typeof value !== 'object' || value === null) return false
  const { name, bytes, updatedAt } = value as Record<string, unknown>
  return typeof name === 'string' && typeof bytes === 'number' && typeof updatedAt === 'number'
}
