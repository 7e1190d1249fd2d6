import type { ProviderStatus } from '@collab/editor'

/** How a label should look: the badge colour. */
export type Tone = 'good' | 'busy' | 'bad'

/** A short text for the header and its tone. */
export interface StatusLabel {
  text: string
  tone: Tone
}

/** Connected / Reconnecting… / Offline, from the provider's connection state. */
export function connectionLabel(status: ProviderStatus): StatusLabel {
  switch (status.connection) {
    case 'synced':
    case 'connected':
      return { text: 'Connected', tone: 'good' }
    case 'connecting':
      return { text: 'Reconnecting…', tone: 'busy' }
    case 'offline':
      return { text: 'Offline', tone: 'bad' }
  }
}

/**
 * Saved / Saving… / Unsaved changes. "Saved" is what the server acknowledged as stored, so it is a fact; local
 * changes while disconnected cannot be on their way, so they are "Unsaved" rather than "Saving…".
 */
export function saveLabel(status: ProviderStatus): StatusLabel {
  if (status.readOnly) return { text: 'Read only', tone: 'busy' }
  if (!status.unsaved) return { text: 'Saved', tone: 'good' }
  const online = status.connection === 'connected' || status.connection === 'synced'
  return online ? { text: 'Saving…', tone: 'busy' } : { text: 'Unsaved changes', tone: 'bad' }
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
        return 'This document was deleted. Reload the page to start a new document with this name.'
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
