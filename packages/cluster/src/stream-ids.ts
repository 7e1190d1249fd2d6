/**
 * Redis stream entry IDs are `<ms>-<seq>`, the milliseconds of the Redis server's clock when the entry was added;
 * they only grow within a stream.
 */

/** Orders two stream IDs: negative when `a` comes first. */
export function compareStreamIds(a: string, b: string): number {
  const [aMs, aSeq] = parseStreamId(a)
  const [bMs, bSeq] = parseStreamId(b)
  return aMs === bMs ? aSeq - bSeq : aMs - bMs
}

function parseStreamId(id: string): [number, number] {
  const dash = id.indexOf('-')
  if (dash < 0) return [Number(id), 0]
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))]
}
