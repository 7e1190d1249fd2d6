/** How the server authenticates, as `GET /api/config` tells. */
interface ServerAuthConfig {
  auth: boolean
  devTokens: boolean
}

let config: Promise<ServerAuthConfig> | null = null
let cached: { token: string; expiresAt: number } | null = null

function serverAuthConfig(): Promise<ServerAuthConfig> {
  config ??= fetch('/api/config', { headers: { accept: 'application/json' } })
    .then((response) =>
      response.ok ? (response.json() as Promise<ServerAuthConfig>) : { auth: false, devTokens: false },
    )
    .catch((err: unknown) => {
      config = null
      throw err
    })
  return config
}

/**
 * The token for the API and for documents: none when the server runs without authentication, a development
 * token when the server hands them out (local use), and otherwise none, which the server refuses with a clear
 * message. An app embedding the editor passes its own tokens instead. Called before every connection, so an
 * expired token is replaced.
 */
export async function currentToken(attempt: { afterRefusal: boolean } = { afterRefusal: false }): Promise<string> {
  const { auth, devTokens } = await serverAuthConfig()
  if (!auth || !devTokens) return ''
  // A minute of margin, so a token does not expire between this call and the server checking it. A refused token
  // is never reused: the server may have restarted with a new development secret.
  if (cached && !attempt.afterRefusal && cached.expiresAt - Date.now() > 60_000) return cached.token
  const response = await fetch('/api/dev-token', { headers: { accept: 'application/json' } })
  if (!response.ok) throw new Error(`GET /api/dev-token answered ${response.status}`)
  cached = (await response.json()) as { token: string; expiresAt: number }
  return cached.token
}
