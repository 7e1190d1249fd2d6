/** Where a provider connects for one document, and the WebSocket subprotocols it offers. */
export interface ConnectionTarget {
  url: string
  protocols: string[]
}

/**
 * The document's URL on the server and how the token travels to it ([AU1]). A token goes as the subprotocol
 * `token.<token>` beside `collab`: browsers cannot set headers on a WebSocket, and unlike a URL this header is not
 * written to proxies' access logs. Tokens with characters a subprotocol cannot hold fall back to the `token` query
 * parameter. `params` are further query parameters, such as `sync=ot` for a @codemirror/collab client ([OT1]).
 */
export function connectionTarget(
  serverUrl: string,
  docName: string,
  token: string | undefined,
  params: Readonly<Record<string, string>> = {},
): ConnectionTarget {
  const base = `${serverUrl.replace(/\/+$/, '')}/${encodeURIComponent(docName)}`
  const tokenFitsProtocol = token !== undefined && /^[A-Za-z0-9._~-]+$/.test(token)
  const query = Object.entries(token && !tokenFitsProtocol ? { ...params, token } : params)
  // encodeURIComponent rather than URLSearchParams, whose `+` for a space some servers read literally.
  const search = query.map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`).join('&')
  const url = search === '' ? base : `${base}?${search}`
  return { url, protocols: token && tokenFitsProtocol ? ['collab', `token.${token}`] : [] }
}
