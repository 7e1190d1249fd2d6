import { type PostgresServer, startPostgres } from '@collab/test-services'
import { freePort } from '@collab/test-support'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clusterFromConfig, redactUrl } from '../src/index.js'

const logger = pino({ level: 'silent' })
let postgres: PostgresServer
let databaseUrl: string

beforeAll(async () => {
  postgres = await startPostgres()
  databaseUrl = await postgres.createDatabase('from_env')
})
afterAll(() => postgres?.close())

describe('clusterFromConfig', () => {
  it('runs as a single instance when neither URL is set', async () => {
    const cluster = await clusterFromConfig({ logger })
    expect(cluster.store).toBeUndefined()
    expect(cluster.relay).toBeUndefined()
    await cluster.close()
  })

  it('stores in PostgreSQL with DATABASE_URL alone', async () => {
    const cluster = await clusterFromConfig({ databaseUrl, logger })
    expect(cluster.relay).toBeUndefined()
    await cluster.store!.append('doc', new Uint8Array([0, 0]))
    expect(await cluster.store!.load('doc')).toHaveLength(1)
    await cluster.close()
  })

  it('refuses Redis without a shared store', async () => {
    await expect(clusterFromConfig({ redisUrl: 'redis://127.0.0.1:1', logger })).rejects.toThrow(/DATABASE_URL/)
  })

  it('fails at start, leaving nothing open, when Redis cannot be reached', async () => {
    const port = await freePort()
    const started = Date.now()
    await expect(clusterFromConfig({ redisUrl: `redis://127.0.0.1:${port}`, databaseUrl, logger })).rejects.toThrow()
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('keeps passwords out of log lines', () => {
    expect(redactUrl('postgres://collab:secret@db:5432/collab')).toBe('postgres://collab:***@db:5432/collab')
    expect(redactUrl('not a url')).toBe('(unparsable URL)')
  })
})
