import { MessageType, SyncMessageType } from '@collab/protocol'
import type { Access } from './auth.js'

/** Why a connection was refused before it reached a document. */
export type RefusalReason =
  | 'auth'
  | 'name'
  | 'origin'
  | 'address'
  | 'shutdown'
  | 'auth-error'
  | 'auth-timeout'
  | 'unsupported'

/**
 * Hooks for metrics. Every hook is optional; the ones marked "per message" run on the hot path and must be cheap
 * (increment a counter, nothing more).
 */
export interface SyncObserver {
  connectionOpened?(access: Access): void
  /** Every closed WebSocket, admitted or not, with its close code. */
  connectionClosed?(code: number, durationMs: number): void
  /** A connection refused before joining a document (the close code, or the HTTP status for origin/shutdown). */
  connectionRefused?(reason: RefusalReason, code: number): void
  /** Per message: a message received, by kind (`invalid` when it did not decode). */
  messageReceived?(kind: string, bytes: number): void
  /** Per message: `count` copies of one message sent (a broadcast sends one message to many connections). */
  messagesSent?(kind: string, bytes: number, count: number): void
  roomLoaded?(ms: number, ok: boolean): void
  roomUnloaded?(ms: number): void
  compacted?(ms: number, bytes: number): void
  /** An update from a read-only connection was dropped. */
  updateDropped?(): void
  /**
   * An update was not applied: `invalid` (the connection is closed), `missing` (its dependencies are missing; the
   * sender is asked for them, [SY4]) or `deleted` (content of a deleted document, [DL2]).
   */
  updateRefused?(kind: 'invalid' | 'missing' | 'deleted'): void
  /** A hook, or the handling of one message, threw; `where` names it. The server carried on. */
  hookFailed?(where: string): void
}

/** Every hook of {@link SyncObserver}, so that each can be run inside the exception sink. */
export const observerHooks = [
  'connectionOpened',
  'connectionClosed',
  'connectionRefused',
  'messageReceived',
  'messagesSent',
  'roomLoaded',
  'roomUnloaded',
  'compacted',
  'updateDropped',
  'updateRefused',
  'hookFailed',
] as const satisfies ReadonlyArray<keyof SyncObserver>

const syncKinds = ['sync-step-1', 'sync-step-2', 'sync-update']
const kinds: Record<number, string> = {
  [MessageType.Awareness]: 'awareness',
  [MessageType.Auth]: 'auth',
  [MessageType.QueryAwareness]: 'query-awareness',
  [MessageType.Hello]: 'hello',
  [MessageType.Ping]: 'ping',
  [MessageType.Pong]: 'pong',
  [MessageType.Saved]: 'saved',
  [MessageType.Collab]: 'collab',
}

/**
 * The kind of an encoded message we send, from its first bytes (every type and sync sub-type we use is below 128,
 * so one byte each): cheaper than keeping the kind beside every buffer.
 */
export function kindOfEncoded(message: Uint8Array): string {
  const type = message[0]
  if (type === MessageType.Sync) return syncKinds[message[1] ?? SyncMessageType.Update] ?? 'sync'
  return (type !== undefined && kinds[type]) || 'unknown'
}
