/** What apps/server/src/cli.ts prints once it accepts connections, followed by its base URL. */
const listeningMessage = 'listening on '

/**
 * The base URL (`http://host:port`) a server announced once it accepts connections, found in its output so far
 * (the text, or its lines), or undefined while it has not announced it.
 *
 * The announcement is the JSON log line whose `url` field holds the address. When the server's log level hides
 * info lines it prints `listening on <url>` as plain text instead, which is read as that. Only complete lines
 * count, so a line still being written is never taken for a shorter address.
 */
export function listeningUrl(output: string | readonly string[]): string | undefined {
  // The text after the last newline may be the first half of a line.
  const lines = typeof output === 'string' ? output.split('\n').slice(0, -1) : output
  for (const line of lines) {
    const url = announcedUrl(line.trim())
    if (url !== undefined) return url
  }
  return undefined
}

function announcedUrl(line: string): string | undefined {
  if (line.startsWith('{')) {
    const entry = parseJsonLine(line)
    const url = entry?.url
    return typeof url === 'string' && entry?.msg === `${listeningMessage}${url}` ? url : undefined
  }
  if (!line.startsWith(listeningMessage)) return undefined
  const url = line.slice(listeningMessage.length)
  return URL.canParse(url) ? url : undefined
}

/** One JSON log line's fields, or null when the line is not a JSON object (a line a child process printed). */
function parseJsonLine(line: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(line)
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null
  } catch (err) {
    if (err instanceof SyntaxError) return null
    throw err
  }
}
