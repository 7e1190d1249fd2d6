import type { DocRelay } from '@collab/server'
import { type DocStore, PostgresDocStore } from '@collab/storage'
import type { Logger } from 'pino'
import { RedisDocRelay } from './redis-relay.js'

/** The settings that switch a server into cluster mode (REDIS_URL / --redis-url, DATABASE_URL / --database-url). */
export interface ClusterConfig {
  /** Redis relaying updates and presence between instances. Needs `databaseUrl` too. */
  redisUrl?: string | undefined
  /** PostgreSQL storing documents for every instance. Alone, it replaces LevelDB for a single instance. */
  databaseUrl?: string | undefined
  logger: Logger
  /** This instance's name in the relay (default: host, pid and a random suffix). */
  instanceId?: string | undefined
}

/** What the server runs on in cluster mode; absent parts mean "as a single instance" (LevelDB, no relay). */
export interface Cluster {
  /** The shared store, when `databaseUrl` is set: use it instead of LevelDB. */
  store?: DocStore
  /** The relay, when `redisUrl` is set: pass it to `createSyncServer({ relay })`. */
  relay?: DocRelay
  /** Disconnects the relay, then closes the store. Call after the sync server closed. */
  close(): Promise<void>
}

/**
 * Connects what the configuration asks for. Rejects (and leaves nothing open) when a service cannot be reached
 * at start, or when Redis is configured without PostgreSQL: a relay between instances that each keep their own
 * store would leave every instance's store with a part of each document.
 */
export async function clusterFromConfig(config: ClusterConfig): Promise<Cluster> {
  if (config.redisUrl && !config.databaseUrl) {
    throw new Error(
      'REDIS_URL needs DATABASE_URL: instances relaying updates through Redis must share one PostgreSQL store',
    )
  }
  const logger = config.logger
  const store = config.databaseUrl
    ? await PostgresDocStore.open({ connectionString: config.databaseUrl, logger })
    : undefined
  let relay: RedisDocRelay | undefined
  if (config.redisUrl) {
    try {
      relay = await RedisDocRelay.open({
        url: config.redisUrl,
        logger,
        ...(config.instanceId !== undefined && { instanceId: config.instanceId }),
      })
    } catch (err) {
      await store?.close()
      throw err
    }
  }
  if (store) logger.info({ database: redactUrl(config.databaseUrl!) }, 'documents are stored in PostgreSQL')
  if (relay) logger.info({ redis: redactUrl(config.redisUrl!), instance: relay.instanceId }, 'relaying through Redis')
  return {
    ...(store && { store }),
    ...(relay && { relay }),
    async close() {
      await relay?.close()
      await store?.close()
    },
  }
}

/** A URL without its password, for log lines. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(unparsable URL)'
  }
}
