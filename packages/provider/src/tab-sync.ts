import * as Y from 'yjs'

/** The messages tabs exchange, structured-cloned by the BroadcastChannel. */
type TabMessage =
  /** A change of the sender's Y.Doc. (`from` is absent in builds before 2026-12-03.) */
  | { type: 'update'; update: Uint8Array; from?: string }
  /** A tab that just joined: its state vector, so the others send what it lacks. */
  | { type: 'hello'; stateVector: Uint8Array; from: string }
  /**
   * What tab `to` lacks, for it only. The answer to a hello carries the answering tab's state vector, so that the
   * joining tab sends back what it changed before it knew of the answering one; that reply carries none.
   */
  | { type: 'missing'; update: Uint8Array; to: string; from?: string; stateVector?: Uint8Array }
  /** The sender closed: the others stop counting it. */
  | { type: 'bye'; from: string }

/** The BroadcastChannel's name for a document: one channel per document and origin. */
export function tabChannelName(docName: string): string {
  return `collab:tabs:${docName}`
}

/**
 * Shares one document's changes between the tabs of this browser that have it open, with or without a server:
 * every change goes to the others at once, and a tab that joins asks the others for what it lacks. Changes
 * applied here carry this object as their origin, so they are neither sent back nor written to the local store a
 * second time (the tab they come from writes them).
 *
 * BroadcastChannel delivers only to live tabs of the same origin; a tab that opens later reads the others' edits
 * from the local store, and gets the rest with its hello.
 *
 * A tab posts its changes only while it knows of another tab of the document (one that said hello, answered its
 * own, or sent a change), so that a document open in one tab, the usual case, costs no structured clone and
 * cross-process message per keystroke. The exchange around a hello carries both state vectors, so what either
 * tab changed before it knew of the other reaches it all the same.
 */
export class TabSync {
  private readonly doc: Y.Doc
  private readonly channel: BroadcastChannel | null
  private readonly id = Math.random().toString(36).slice(2)
  /** The other tabs of this document known to be open (`?` for one of an older build, which never says bye). */
  private readonly peers = new Set<string>()
  private destroyed = false

  constructor(doc: Y.Doc, docName: string) {
    this.doc = doc
    const Channel = (globalThis as { BroadcastChannel?: typeof BroadcastChannel }).BroadcastChannel
    this.channel = Channel ? new Channel(tabChannelName(docName)) : null
    if (!this.channel) return
    this.channel.onmessage = (event: MessageEvent<TabMessage>) => this.receive(event.data)
    doc.on('update', this.onUpdate)
    this.post({ type: 'hello', stateVector: Y.encodeStateVector(doc), from: this.id })
  }

  /** Whether this environment has BroadcastChannel (every current browser, and Node). */
  get active(): boolean {
    return this.channel !== null
  }

  /**
   * Asks the other tabs again for what this one lacks: after the local copy loaded, say, when the state vector
   * the first hello carried was empty.
   */
  hello(): void {
    this.post({ type: 'hello', stateVector: Y.encodeStateVector(this.doc), from: this.id })
  }

  destroy(): void {
    if (this.destroyed || !this.channel) return
    this.destroyed = true
    this.doc.off('update', this.onUpdate)
    if (this.peers.size > 0) this.post({ type: 'bye', from: this.id })
    this.channel.onmessage = null
    this.channel.close()
  }

  private receive(message: TabMessage): void {
    if (this.destroyed || typeof message !== 'object' || message === null) return
    try {
      switch (message.type) {
        case 'update':
          this.peers.add(message.from ?? '?')
          Y.applyUpdate(this.doc, message.update, this)
          return
        case 'hello': {
          this.peers.add(message.from)
          const missing = Y.encodeStateAsUpdate(this.doc, message.stateVector)
          this.post({
            type: 'missing',
            update: missing,
            to: message.from,
            from: this.id,
            stateVector: Y.encodeStateVector(this.doc),
          })
          return
        }
        case 'missing': {
          if (message.to !== this.id) return
          this.peers.add(message.from ?? '?')
          Y.applyUpdate(this.doc, message.update, this)
          if (message.stateVector && message.from !== undefined) {
            const missing = Y.encodeStateAsUpdate(this.doc, message.stateVector)
            this.post({ type: 'missing', update: missing, to: message.from, from: this.id })
          }
          return
        }
        case 'bye':
          this.peers.delete(message.from)
          return
      }
    } catch (err) {
      // Another tab may run an older or newer build of the app; its message costs itself only.
      console.error('[collab] ignoring a message from another tab', err)
    }
  }

  private readonly onUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === this || this.peers.size === 0) return
    this.post({ type: 'update', update, from: this.id })
  }

  private post(message: TabMessage): void {
    try {
      this.channel?.postMessage(message)
    } catch (err) {
      console.error('[collab] sending a change to other tabs failed', err)
    }
  }
}
