/**
 * Which local changes the server has acknowledged as durably stored ([SA1]), for the provider's `unsaved` status.
 *
 * The server numbers the document messages (sync step 2 and update) it receives on a connection 1, 2, 3... and
 * acknowledges with `saved N`: "your first N document messages are stored". This counts the same messages on the
 * sending side and remembers the number of the last one that carried a local change; the changes are saved once
 * an acknowledgement reaches it. Numbering is per connection, so a change sent on a connection that closed before
 * acknowledging it is sent again in the next connection's sync step 2 ([DU3]) and stays unsaved until the new
 * connection acknowledges that step 2.
 *
 * An acknowledgement may lag behind what was sent for as long as the server needs: it holds its count below a
 * message it could not apply for missing dependencies until a later sync step 2 from this client is stored
 * ([SY4]). Nothing here assumes acknowledgements are prompt; the change simply stays unsaved meanwhile.
 *
 * A policy without I/O: the provider reports what it sent and what the server said, and reads {@link unsaved}.
 */
export class SaveAccounting {
  /** Document messages sent on the current connection; the server numbers the same messages. */
  private sent = 0
  /** The highest count the server acknowledged on the current connection. */
  private acknowledged = 0
  /** The number of the last message on the current connection that carried a local change; 0 for none. */
  private lastChangeIn = 0
  /** Local changes that no message on the current connection carries yet; the next sync step 2 will. */
  private changesNotSent = false

  /** Document messages sent on the current connection so far, as the server numbers them. */
  get numbered(): number {
    return this.sent
  }

  /** Whether some local change is not yet acknowledged as stored. */
  get unsaved(): boolean {
    return this.changesNotSent || this.lastChangeIn > this.acknowledged
  }

  /** A local change could not be sent (no open connection): it waits for the next sync step 2. */
  changeNotSent(): void {
    this.changesNotSent = true
  }

  /** An update message carrying a local change was sent. */
  updateSent(): void {
    this.lastChangeIn = ++this.sent
  }

  /**
   * Our sync step 2 was sent. It is counted like any document message, and it carries every local change that no
   * earlier message on this connection did (it holds everything the server's state vector lacks). An OT `push` is
   * counted the same way: it carries every unconfirmed update.
   */
  syncStep2Sent(): void {
    this.sent++
    if (this.changesNotSent) this.lastChangeIn = this.sent
    this.changesNotSent = false
  }

  /**
   * The server sent `saved count`. Acknowledgements only grow, and one may cover several messages (they are
   * coalesced per storage write), so a lower or repeated count changes nothing. A count above what was sent on
   * this connection is ignored rather than clamped: the server is numbering messages we never sent, so its count
   * vouches for none of ours, and believing it would report changes as stored that may not be.
   */
  savedReceived(count: number): void {
    if (count > this.sent) return
    this.acknowledged = Math.max(this.acknowledged, count)
  }

  /**
   * For a server that sends no acknowledgements (one without the save-ack capability, such as a stock y-websocket
   * server): what it has received is the best we can know, so everything sent so far counts as saved.
   */
  acknowledgeAllSent(): void {
    this.acknowledged = this.sent
  }

  /**
   * The connection is gone. What it carried without an acknowledgement must ride in the next connection's sync
   * step 2, and that connection numbers its messages from 1 again.
   */
  connectionClosed(): void {
    if (this.lastChangeIn > this.acknowledged) this.changesNotSent = true
    this.sent = 0
    this.acknowledged = 0
    this.lastChangeIn = 0
  }

  /**
   * The connection goes on over a transport that already carried `alreadyNumbered` document messages before it was
   * given up as silent (a WebSocket the HTTP fallback outlasted, which the server answered later). The server numbers
   * that transport's messages on from there, so this does too: starting again from 1 would read the server's count
   * of the old messages as acknowledging new ones, and report changes as stored before they are. What the old
   * messages carried rides in the next sync step 2, as after any closed connection.
   */
  resumeNumbering(alreadyNumbered: number): void {
    this.sent = alreadyNumbered
    this.acknowledged = 0
    this.lastChangeIn = 0
  }
}
