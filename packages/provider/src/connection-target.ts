/** Where a provider connects for one document, and the WebSocket subprotocols it offers. */
export interface ConnectionTarget {
  url: string
  protocols: string[]
}

/**
 * The document's URL on the server and how the token travels to it ([AU1]). A token goes as the subprotocol
 * `token.<token>` beside `collab`: browsers cannot set headers on a WebSocket, and unlike a URL this header is not
 * written to proxies' access logs. Tokens with characters a subprotocol cannot hold fall back to the `token` query
 * parameter.
 */
export function connectionTarget(serverUrl: string, docName: string, token: string | undefined): ConnectionTarget {
  const base = `${serverUrl.replace(/\/+$/, '')}/${encodeURIComponent(docName)}`
  if (!token) return { url: base, protocols: [] }
  if (/^[A-Za-z0-9._~-]+$/.test(token)) return { url: base, protocols: ['collab', `token.${token}`] }
  return { url: `${base}?token=${encodeURIComponent(token)}`, protocols: [] }
}
