import { CloseCode } from '@collab/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import {
  connectClient,
  crossInstanceMs,
  missingTokens,
  report,
  sleep,
  startInstance,
  startServices,
  storedText,
  Teardown,
  typeToken,
  waitFor,
} from './harness.js'

const teardown = new Teardown()
afterEach(() => teardown.run())

describe('PostgreSQL unavailable for a while', () => {
  it('acknowledges nothing unstored, tells clients to retry later, and stores everything once it is back', async () => {
    const services = await startServices(teardown)
    const a = await startInstance(services, 'a', teardown)
    const b = await startInstance(services, 'b', teardown)
    const writer = connectClient(a.url, 'outage', 'w-', teardown)
    const reader = connectClient(b.url, 'outage', 'r-', teardown)
    await waitFor(
      'both clients to sync',
      () => [writer, reader].every((c) => c.provider.status.connection === 'synced'),
      crossInstanceMs,
    )
    for (let i = 0; i < 5; i++) typeToken(writer)
    await waitFor(
      'the first edits to be saved',
      () => writer.acknowledged === 5 && !writer.provider.status.unsaved,
      crossInstanceMs,
    )

    await services.postgres.stop('fast')
    const stoppedAt = Date.now()
    let acknowledgedDuringOutage = false
    const stopWatching = writer.provider.onStatus((status) => {
      if (!status.unsaved && services.postgres.running === false) acknowledgedDuringOutage = true
    })
    for (let i = 0; i < 10; i++) {
      typeToken(writer)
      await sleep(50)
    }
    await waitFor(
      'the writer to be told to retry later',
      () => writer.closeCodes.includes(CloseCode.RetryLater),
      crossInstanceMs,
    )
    report('PostgreSQL down: client told 4503 (retry later) after', Date.now() - stoppedAt)
    await sleep(1_500)
    expect(writer.provider.status.unsaved).toBe(true)
    expect(writer.acknowledged).toBe(5)

    await services.postgres.start()
    const restartedAt = Date.now()
    stopWatching()
    await waitFor('every edit to be saved', () => !writer.provider.status.unsaved && writer.acknowledged === 15, 20_000)
    report('PostgreSQL back: every edit made during the outage acknowledged after', Date.now() - restartedAt)
    expect(acknowledgedDuringOutage).toBe(false)
    expect(missingTokens(await storedText(services.databaseUrl, 'outage'), [writer])).toEqual([])
    // The reader on the other instance ends up with everything too.
    await waitFor(
      'the reader to converge',
      () => missingTokens(reader.text.toString(), [writer]).length === 0,
      crossInstanceMs,
    )
    report('PostgreSQL back: reader on the other instance has everything after', Date.now() - restartedAt)
  })
})
