import { docNameError } from '@collab/protocol'

const adjectives = ['calm', 'bright', 'quiet', 'gentle', 'swift', 'sunny', 'misty', 'brave', 'lucky', 'merry']
const animals = ['otter', 'heron', 'fox', 'wren', 'lynx', 'finch', 'panda', 'koala', 'badger', 'robin', 'seal']

/** A fresh readable document name such as `calm-otter-42`. */
export function randomDocName(random: () => number = Math.random): string {
  return `${pick(adjectives, random)}-${pick(animals, random)}-${10 + Math.floor(random() * 90)}`
}

/**
 * Why `name` cannot be opened, as a sentence for the user, or `null` when it can. The rules and their reasons are
 * the server's ([DN1] in docs/PROTOCOL.md, `docNameError` of @collab/protocol), checked here so the user sees the
 * problem before connecting.
 */
export function docNameProblem(name: string): string | null {
  // Not one of the server's rules (it accepts spaces): a blank field is simply not filled in yet.
  if (name.trim() === '') return 'Enter a document name.'
  const reason = docNameError(name)
  return reason === null ? null : `${reason.charAt(0).toUpperCase()}${reason.slice(1)}.`
}

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)] as T
}
