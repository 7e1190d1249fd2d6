import { describe, expect, it } from 'vitest'
import { HistoryApiError } from './history-api.js'
import { describeFailure } from './history-failures.js'

describe('describeFailure', () => {
  it('says what failed and why, by status', () => {
    const failed = 'The version could not be restored.'
    expect(describeFailure(new HistoryApiError(403, 'forbidden'), failed)).toBe(
      'The version could not be restored. Your access to this document does not allow it.',
    )
    expect(describeFailure(new HistoryApiError(404, 'no such version'), failed)).toBe(
      'The version could not be restored. It no longer exists.',
    )
    expect(describeFailure(new HistoryApiError(400, 'the name is empty'), 'The name could not be saved.')).toBe(
      'The name could not be saved. The name is empty.',
    )
  })

  it('tells a server without version history apart from a missing version', () => {
    const noRoute = new HistoryApiError(404, 'no such endpoint; a document name is one path segment')
    expect(describeFailure(noRoute, 'The versions could not be loaded.')).toBe(
      'This server does not keep version history.',
    )
    expect(describeFailure(new HistoryApiError(501, 'it needs the LevelDB store'), 'x')).toBe(
      'This server does not keep version history (it needs the LevelDB store).',
    )
  })
})
