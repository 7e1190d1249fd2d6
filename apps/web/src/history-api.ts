import { currentToken } from './auth.js'

// The version history API of a document (`/api/docs/<name>/versions`, docs/OPERATIONS.md), as the history panel
// uses it. Answers are checked field by field: a version the app cannot read is left out rather than shown wrong.

/** One version of a document, as `GET /api/docs/<name>/versions` lists it. */
export interface VersionSummary {
  id: string
  /** When the version was made, ms since the epoch. */
  at: number
  /** The name someone gave it, or `null` for an unnamed version. */
  name: string | null
  /** The users who changed the document since the previous version (token subjects), in the server's order. */
  authors: string[]
  /** Made by the server (a burst of editing went quiet, the last person left, a long session) rather than asked for. */
  auto: boolean
}

/** A stretch of a version's text and the user who wrote it; `null` when the server cannot tell (no signed-in user). */
export interface AuthorRun {
  text: string
  user: string | null
}

/** A refused or failed call, with the HTTP status (0 when the server could not be reached) and the server's reason. */
export class HistoryApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
    this.name = 'HistoryApiError'
  }
}

/** The versions of `docName`, newest first. */
export async function fetchVersions(docName: string, signal?: AbortSignal): Promise<VersionSummary[]> {
  const body = await callJson('GET', versionsPath(docName), { signal })
  if (!Array.isArray(body)) throw new HistoryApiError(200, 'the server listed the versions without an array')
  return body
    .map(parseVersion)
    .filter((version): version is VersionSummary => version !== null)
    .sort((a, b) => b.at - a.at)
}

/** Makes a version of the document as it is now, called `name`; resolves to it. */
export async function createNamedVersion(docName: string, name: string): Promise<VersionSummary> {
  const body = await callJson('POST', versionsPath(docName), { body: { name } })
  const version = parseVersion(body)
  if (!version) throw new HistoryApiError(201, 'the server answered the new version in a form the app cannot read')
  return version
}

/** The text of one version. */
export async function fetchVersionText(docName: string, id: string, signal?: AbortSignal): Promise<string> {
  const response = await call('GET', versionPath(docName, id), { signal, accept: 'text/plain' })
  return response.text()
}

/** The text of one version as runs of `{ text, user }`: who wrote each character that is in it. */
export async function fetchVersionAuthors(docName: string, id: string, signal?: AbortSignal): Promise<AuthorRun[]> {
  const body = await callJson('GET', `${versionPath(docName, id)}/authors`, { signal })
  const runs = Array.isArray(body) ? body : (body as { runs?: unknown } | null)?.runs
  if (!Array.isArray(runs)) throw new HistoryApiError(200, 'the server answered the authors without an array of runs')
  return runs.flatMap((run: unknown): AuthorRun[] => {
    if (typeof run !== 'object' || run === null) return []
    const { text, user } = run as Record<string, unknown>
    if (typeof text !== 'string' || text === '') return []
    return [{ text, user: userIdOf(user) }]
  })
}

/** What a restore did: the version kept of the text just before it (restoring that undoes it), and whether it changed anything. */
export interface RestoreResult {
  before: VersionSummary | null
  changed: boolean
}

/** Restores a version: the server applies, as one edit by this user, the change from today's text to the version's. */
export async function restoreVersion(docName: string, id: string): Promise<RestoreResult> {
  const body = await callJson('POST', `${versionPath(docName, id)}/restore`, {})
  const { before, changed } = (body ?? {}) as { before?: unknown; changed?: unknown }
  return { before: parseVersion(before), changed: changed !== false }
}

/** Names (or renames) a version. */
export async function renameVersion(docName: string, id: string, name: string): Promise<void> {
  await call('PATCH', versionPath(docName, id), { body: { name } })
}

/** Deletes a named version. */
export async function deleteVersion(docName: string, id: string): Promise<void> {
  await call('DELETE', versionPath(docName, id), {})
}

/**
 * A version from the server's JSON, or `null` when it lacks an id or a readable time. `at` may be ms since the
 * epoch, seconds, or an ISO 8601 string; `authors` strings or `{ id, name }` objects.
 */
export function parseVersion(value: unknown): VersionSummary | null {
  if (typeof value !== 'object' || value === null) return null
  const { id, at, name, authors, auto } = value as Record<string, unknown>
  if ((typeof id !== 'string' || id === '') && (typeof id !== 'number' || !Number.isFinite(id))) return null
  const time = timeOf(at)
  if (time === null) return null
  return {
    id: String(id),
    at: time,
    name: typeof name === 'string' && name.trim() !== '' ? name : null,
    authors: Array.isArray(authors)
      ? [...new Set(authors.map(userIdOf).filter((user): user is string => user !== null))]
      : [],
    auto: auto === true,
  }
}

/** Below this, a number is taken as seconds since the epoch (it would be 1973 in ms). */
const smallestMsTime = 1e11

function timeOf(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) {
    return value < smallestMsTime ? value * 1000 : value
  }
  if (typeof value !== 'string' || value.trim() === '') return null
  if (/^\d+(\.\d+)?$/.test(value.trim())) return timeOf(Number(value))
  const parsed = Date.parse(value)
  return Number.isNaN(parsed) ? null : parsed
}

function userIdOf(value: unknown): string | null {
  if (typeof value === 'string') return value === '' ? null : value
  if (typeof value === 'object' && value !== null) {
    const { id, name } = value as Record<string, unknown>
    if (typeof name === 'string' && name !== '') return name
    if (typeof id === 'string' && id !== '') return id
  }
  return null
}

function versionsPath(docName: string): string {
  return `/api/docs/${encodeURIComponent(docName)}/versions`
}

function versionPath(docName: string, id: string): string {
  return `${versionsPath(docName)}/${encodeURIComponent(id)}`
}

interface CallOptions {
  signal?: AbortSignal | undefined
  accept?: string
  body?: unknown
}

async function callJson(method: string, path: string, options: CallOptions): Promise<unknown> {
  const response = await call(method, path, { ...options, accept: 'application/json' })
  try {
    return await response.json()
  } catch (err) {
    throw new HistoryApiError(response.status, `${method} ${path} answered something other than JSON (${err})`)
  }
}

/**
 * Sends one request with the app's token; a 401 is tried once more with a fresh token (the server may have
 * restarted with a new development secret). Throws {@link HistoryApiError} for anything but a 2xx answer.
 */
async function call(method: string, path: string, options: CallOptions): Promise<Response> {
  const send = async (afterRefusal: boolean) => {
    const token = await currentToken({ afterRefusal })
    const headers: Record<string, string> = { accept: options.accept ?? 'application/json' }
    if (token) headers.authorization = `Bearer ${token}`
    if (options.body !== undefined) headers['content-type'] = 'application/json'
    return fetch(path, {
      method,
      headers,
      signal: options.signal ?? null,
      ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
    })
  }
  let response: Response
  try {
    response = await send(false)
    if (response.status === 401) response = await send(true)
  } catch (err) {
    if (options.signal?.aborted) throw err
    throw new HistoryApiError(0, `the server could not be reached (${err instanceof Error ? err.message : err})`)
  }
  if (response.ok) return response
  throw new HistoryApiError(response.status, await reasonOf(response, `${method} ${path}`))
}

async function reasonOf(response: Response, request: string): Promise<string> {
  const fallback = `${request} answered ${response.status}`
  let body: { error?: unknown }
  try {
    body = (await response.json()) as { error?: unknown }
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
    return fallback
  }
  return typeof body?.error === 'string' && body.error !== '' ? body.error : fallback
}
