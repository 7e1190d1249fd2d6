import { afterEach, describe, expect, it } from 'vitest'
import { bearer, sample, start, stockClient, teardown, waitFor } from './http-support.js'

// GET /metrics: every metric is exposed, and the figures follow what a client does.

afterEach(() => teardown.run())

describe('metrics', () => {
  it('counts connections, messages, storage and requests as a client edits', async () => {
    const server = await start()
    const scrape = async () => {
      const res = await fetch(`${server.url}/metrics`)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
      return res.text()
    }
    const before = await scrape()
    for (const name of [
      'collab_connections',
      'collab_rooms',
      'collab_connections_opened_total',
      'collab_connections_closed_total',
      'collab_connection_duration_seconds',
      'collab_connections_refused_total',
      'collab_auth_failures_total',
      'collab_messages_received_total',
      'collab_received_bytes_total',
      'collab_messages_sent_total',
      'collab_sent_bytes_total',
      'collab_updates_dropped_total',
      'collab_room_loads_total',
      'collab_room_load_duration_seconds',
      'collab_room_unloads_total',
      'collab_store_updates_total',
      'collab_store_appended_bytes_total',
      'collab_store_append_duration_seconds',
      'collab_store_compactions_total',
      'collab_store_compaction_duration_seconds',
      'collab_store_errors_total',
      'collab_http_requests_total',
      'collab_http_request_duration_seconds',
      'nodejs_eventloop_lag_seconds',
      'process_resident_memory_bytes',
    ]) {
      expect(before, name).toContain(`# TYPE ${name} `)
    }
    expect(sample(before, 'collab_connections')).toBe(0)

    const client = stockClient(server, 'metered')
    await waitFor('the client to sync', () => client.provider.synced)
    for (const char of 'hello') client.text.insert(client.text.length, char)
    // Keystrokes that arrive together are stored as one record ([SU4]), so at least one record follows five messages.
    await waitFor('the edits to be received and stored', async () => {
      const now = await scrape()
      return (
        sample(now, 'collab_messages_received_total', { kind: 'sync-update' }) >= 5 &&
        sample(now, 'collab_store_updates_total') >= 1
      )
    })
    const during = await scrape()
    expect(sample(during, 'collab_connections')).toBe(1)
    expect(sample(during, 'collab_rooms')).toBe(1)
    expect(sample(during, 'collab_connections_opened_total', { access: 'write' })).toBe(1)
    expect(sample(during, 'collab_messages_received_total', { kind: 'sync-update' })).toBeGreaterThanOrEqual(5)
    expect(sample(during, 'collab_received_bytes_total')).toBeGreaterThan(0)
    expect(sample(during, 'collab_messages_sent_total', { kind: 'sync-step-1' })).toBeGreaterThanOrEqual(1)
    expect(sample(during, 'collab_store_updates_total')).toBeGreaterThanOrEqual(1)
    expect(sample(during, 'collab_store_append_duration_seconds_count')).toBeGreaterThanOrEqual(1)
    expect(sample(during, 'collab_room_loads_total', { result: 'ok' })).toBe(1)
    expect(sample(during, 'collab_http_requests_total', { route: '/metrics', status: '200' })).toBeGreaterThan(1)

    client.provider.destroy()
    await waitFor('the close to be counted', async () => sample(await scrape(), 'collab_connections') === 0)
    expect(sample(await scrape(), 'collab_connections_closed_total')).toBe(1)
  })

  it('--metrics-token protects /metrics', async () => {
    const server = await start({ metricsToken: 'scrape-token-0123456789' })
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401)
    expect((await fetch(`${server.url}/metrics`, { headers: bearer('wrong-token') })).status).toBe(401)
    expect((await fetch(`${server.url}/metrics?token=scrape-token-0123456789`)).status).toBe(401)
    const allowed = await fetch(`${server.url}/metrics`, { headers: bearer('scrape-token-0123456789') })
    expect(allowed.status).toBe(200)
    expect(await allowed.text()).toContain('collab_connections')
  })
})
