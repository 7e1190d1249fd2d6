import { afterEach, describe, expect, it, vi } from 'vitest'
import * as Y from 'yjs'
import { CollabProvider } from '../src/index.js'

afterEach(() => vi.restoreAllMocks())

/** A Y.Doc look-alike from "another copy of Yjs": not an instance of ours. */
function foreignDoc(): Y.Doc {
  const real = new Y.Doc()
  const foreign = Object.create(Object.getPrototypeOf(Object.getPrototypeOf(real)) as object) as Y.Doc
  return Object.assign(foreign, { on: real.on.bind(real), off: real.off.bind(real), clientID: real.clientID })
}

describe('CollabProvider with a second copy of Yjs', () => {
  it('refuses to start, with status error code 0 and a console error naming yjs and the fix', () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const provider = new CollabProvider({
      serverUrl: 'ws://127.0.0.1:1',
      docName: 'doc',
      doc: foreignDoc(),
      WebSocketImpl: class {} as unknown as typeof WebSocket,
    })
    expect(provider.status.connection).toBe('offline')
    expect(provider.status.error?.code).toBe(0)
    expect(provider.status.error?.reason).toMatch(/another copy of yjs/)
    expect(String(logged.mock.calls[0]?.[0])).toMatch(/@collab\/provider cannot sync: .*yjs.*dedupe/)
    provider.destroy()
  })

  it('refuses when another copy of Yjs is imported after it', () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const provider = new CollabProvider({
      serverUrl: 'ws://127.0.0.1:1',
      docName: 'doc',
      doc: new Y.Doc(),
      connect: false,
      WebSocketImpl: class {} as unknown as typeof WebSocket,
    })
    expect(provider.status.error).toBeNull()
    // What every copy of Yjs does when it is imported.
    ;(globalThis as Record<string, unknown>)['__ $YJS$ __'] = true
    expect(provider.status.error?.reason).toMatch(/second copy of yjs/)
    expect(logged).toHaveBeenCalled()
    provider.destroy()
  })
})
