import { HistoryApiError } from './history-api.js'

/** What to tell the user about a failed call of the version API: `fallback` says what failed, the rest why. */
export function describeFailure(err: unknown, fallback: string): string {
  if (!(err instanceof HistoryApiError)) {
    console.error(fallback, err)
    return fallback
  }
  switch (err.status) {
    case 0:
      return `${fallback} The server could not be reached; check the connection and try again.`
    case 401:
      return `${fallback} The sign-in was refused (${err.message}); reload the page.`
    case 403:
      return `${fallback} Your access to this document does not allow it.`
    case 404:
      if (err.message.startsWith('no such endpoint')) return 'This server does not keep version history.'
      return err.message === 'no such document'
        ? `${fallback} The document has no content yet.`
        : `${fallback} It no longer exists.`
    case 501:
      return `This server does not keep version history (${err.message}).`
    default:
      return `${fallback} ${capitalize(err.message)}.`
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1).replace(/\.$/, '')
}
