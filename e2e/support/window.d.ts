// The web app's test hook (apps/web/src/test-hook.ts), typed loosely for page.evaluate callbacks.
interface Window {
  collab?: {
    editor: {
      ytext: { toString(): string; length: number }
      status: {
        connection: string
        unsaved: boolean
        error: { code: number; reason: string } | null
        transport: 'websocket' | 'http'
      }
      view: { state: { doc: { length: number } } }
      awareness: { getStates(): Map<number, Record<string, unknown>> }
      doc: { clientID: number; on(event: 'update', f: (update: Uint8Array, origin: unknown) => void): void }
    }
    sync: 'yjs' | 'ot'
    text(): string
  }
}
