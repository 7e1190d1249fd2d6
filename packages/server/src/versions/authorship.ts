import * as Y from 'yjs'

/** A stretch of text and the user who wrote it: `null` when no authenticated user did (see docs/OPERATIONS.md). */
export interface AuthorRun {
  text: string
  user: string | null
}

/**
 * The text of `ytext` as runs of one author each, in order. Every character was inserted by a Yjs client ID, and
 * the server recorded which user owns each client ID when its first content arrived ([VH2]); a client ID it never
 * saw (content from before version history existed) counts as `null`.
 */
export function authorRuns(ytext: Y.Text, owners: ReadonlyMap<number, string | null>): AuthorRun[] {
  const runs: AuthorRun[] = []
  // Y.Text keeps its content as a linked list of items; each carries the client ID that inserted it.
  for (let item = ytext._start; item !== null; item = item.right) {
    if (item.deleted || !(item.content instanceof Y.ContentString)) continue
    const user = owners.get(item.id.client) ?? null
    const last = runs[runs.length - 1]
    if (last && last.user === user) last.text += item.content.str
    else runs.push({ text: item.content.str, user })
  }
  return runs
}
