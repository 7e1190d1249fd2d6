const adjectives = ['calm', 'bright', 'quiet', 'gentle', 'swift', 'sunny', 'misty', 'brave', 'lucky', 'merry']
const animals = ['otter', 'heron', 'fox', 'wren', 'lynx', 'finch', 'panda', 'koala', 'badger', 'robin', 'seal']

/** A fresh readable document name such as `calm-otter-42`. */
export function randomDocName(random: () => number = Math.random): string {
  return `${pick(adjectives, random)}-${pick(animals, random)}-${10 + Math.floor(random() * 90)}`
}

/** Longest name the server accepts, in UTF-8 bytes. */
const maxNameBytes = 200

/**
 * Why `name` cannot be opened, as a sentence for the user, or `null` when it can. These are the server's rules
 * for document names (docs/PROTOCOL.md, [DN1]), checked here so the user sees the problem before connecting.
 */
export function docNameProblem(name: string): string | null {
  if (name.trim() === '') return 'Enter a document name.'
  if (new TextEncoder().encode(name).length > maxNameBytes) return `Names can be at most ${maxNameBytes} bytes long.`
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'Names cannot contain control characters.'
  for (const segment of name.split('/')) {
    if (segment === '..' || segment === '.') return 'Names cannot contain "." or ".." segments.'
    if (segment === '') return 'Names cannot start or end with "/" or contain "//".'
  }
  return null
}

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)] as T
}
