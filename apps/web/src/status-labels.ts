import { type ProviderStatus, saveStateOf } from '@collab/editor'

/** How a label should look: the badge colour. */
export type Tone = 'good' | 'busy' | 'bad'

/** A short text for the header and its tone. */
export interface StatusLabel {
  text: string
  tone: Tone
  /** A longer explanation, shown as the element's tooltip. */
  title?: string
}

/** Connected / Connected (HTTP) / Reconnecting… / Offline, from the provider's connection state. */
export function connectionLabel(status: ProviderStatus): StatusLabel {
  switch (status.connection) {
    case 'synced':
    case 'connected':
      // Over HTTP long-polling ([HT1]) the page works the same; the label says so, for whoever debugs a network.
      if (status.transport === 'http') {
        return {
          text: 'Connected (HTTP)',
          tone: 'good',
          title: 'This network blocks WebSocket: connected over HTTP instead, and trying WebSocket again meanwhile.',
        }
      }
      return { text: 'Connected', tone: 'good' }
    case 'connecting':
      return { text: 'Reconnecting…', tone: 'busy' }
    case 'offline':
      return { text: 'Offline', tone: 'bad' }
  }
}

/**
 * The three honest save states: "Saved" (the server acknowledged it as stored), "Saved on this device" (in this
 * browser's local store, not yet acknowledged by the server) and, for changes that are nowhere but in this tab's
 * memory, "Saving…" while they are on their way (a connection is open, or the local store is writing them) or
 * "Unsaved changes" when nothing is taking them anywhere.
 */
export function saveLabel(status: ProviderStatus): StatusLabel {
  if (status.readOnly) return { text: 'Read only', tone: 'busy' }
  switch (saveStateOf(status)) {
    case 'server':
      return { text: 'Saved', tone: 'good' }
    case 'device':
      return { text: 'Saved on this device', tone: 'busy' }
    case 'none': {
      const online = status.connection === 'connected' || status.connection === 'synced'
      const storing = status.localStore?.state === 'ready' || status.localStore?.state === 'loading'
      return online || storing ? { text: 'Saving…', tone: 'busy' } : { text: 'Unsaved changes', tone: 'bad' }
    }
  }
}

/**
 * What to tell the user when this browser keeps no copy of the document (no IndexedDB, a quota error, a closed
 * database): edits then live only in this tab until the server stores them. `null` while the local store works,
 * or where there is none by choice.
 */
export function localStoreNotice(status: ProviderStatus): string | null {
  const store = status.localStore
  if (!store) return null
  if (store.state === 'unavailable') {
    return 'This browser does not keep a copy of this document: edits are kept only while this tab is open, until they are saved on the server.'
  }
  if (store.state === 'failed') {
    return 'Saving on this device failed (retrying): edits are kept only while this tab is open, until they are saved on the server.'
  }
  return null
}

/** Whether closing the tab now would lose something: a change that is neither on the server nor on this device. */
export function closingLosesEdits(status: ProviderStatus): boolean {
  return !status.readOnly && saveStateOf(status) === 'none'
}

/** What to tell the user when the server refused the document for good, or `null` if it did not. */
export function refusalMessage(status: ProviderStatus): string | null {
  if (!status.error) return null
  switch (status.error.code) {
    case 4401:
      return 'Access denied: you are not signed in, or your session has expired.'
    case 4403:
      return 'Access denied: you do not have permission to open this document.'
    case 4404:
      // [DL1], [DL2]: closed because it was deleted, or refused because this page still holds the deleted copy.
      if (status.error.reason === 'document deleted' || status.error.reason === 'deleted') {
        const kept =
          status.localStore?.state === 'set-aside'
            ? ' Your copy on this device was kept: find it under “Recovered copies” on the home page.'
            : ''
        return `This document was deleted. Reload the page to start a new document with this name.${kept}`
      }
      // [IN1]: the copy on this device belongs to an earlier incarnation (deleted, or the server's data restored).
      if (status.error.reason === 'replaced') {
        const kept =
          status.localStore?.state === 'set-aside'
            ? ' Your copy is kept under “Recovered copies” on the home page.'
            : ' Your copy stays in this tab only: copy its text before you leave.'
        return `This document was deleted or restored on the server since this device last saw it, so your copy was not sent to it.${kept} Reload the page to open the server’s version.`
      }
      return 'This document name is invalid.'
    case 4501:
      // [OT9]: the @codemirror/collab client (`?sync=ot`) is refused by servers in cluster mode.
      return 'This server does not support the OT editor (?sync=ot). Open the document without it.'
    case 0:
      // Refused on this side before connecting: a broken setup, explained in the console.
      return `The editor could not start: ${status.error.reason}`
    default:
      return `The server refused this document (${status.error.code}${status.error.reason ? `: ${status.error.reason}` : ''}).`
  }
}
