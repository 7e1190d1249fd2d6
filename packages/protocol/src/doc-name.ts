/** Longest document name accepted, in UTF-8 bytes. */
export const maxDocNameBytes = 200

/**
 * Why `name` is not an acceptable document name, or `null` when it is ([DN1]). Names are what follows the
 * first `/` of the WebSocket URL, percent-decoded. Refused: empty, longer than {@link maxDocNameBytes},
 * control characters, a leading or trailing `/`, empty, `.` or `..` path segments.
 */
export function docNameError(name: string): string | null {
  if (name.length === 0) return 'document name is empty'
  const bytes = new TextEncoder().encode(name).length
  if (bytes > maxDocNameBytes) return `document name is ${bytes} bytes long, at most ${maxDocNameBytes} allowed`
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'document name contains control characters'
  for (const segment of name.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      return 'document name has an empty, "." or ".." path segment'
    }
  }
  return null
}
