import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import {
  findExecutable,
  type PostgresServer,
  postgresBinDir,
  type RedisServer,
  startPostgres,
  startRedis,
} from '@collab/test-services'
import type { BenchContext } from '../context.js'
import { type Launcher, startInstances } from '../deployment.js'
import type { Plan } from '../plan.js'
import { treeCpuSeconds } from '../proc-stats.js'

/**
 * The services the cluster workload's instances share: one Redis and one PostgreSQL on loopback ports, started
 * (and installed from Debian packages when missing and possible) by @collab/test-services, as the cluster tests do.
 */
export interface ClusterServices {
  redis: RedisServer
  postgres: PostgresServer
  /** `redis-server --version` and `postgres --version`, shortened to the version number. */
  redisVersion: string
  postgresVersion: string
  /** CPU seconds Redis and PostgreSQL (the postmaster and its backends) have used so far. */
  cpuSeconds(): number
  close(): Promise<void>
}

export async function startClusterServices(): Promise<ClusterServices> {
  const redis = await startRedis()
  let postgres: PostgresServer
  try {
    postgres = await startPostgres()
  } catch (err) {
    await redis.close()
    throw err
  }
  const cpuOf = (pid: number | null) => (pid === null ? 0 : treeCpuSeconds(pid))
  return {
    redis,
    postgres,
    redisVersion: versionOf(findExecutable('redis-server', ['/usr/bin']), /v=(\S+)/),
    postgresVersion: versionOf(join(postgresBinDir() ?? '', 'postgres'), /(\d+(\.\d+)+)/),
    cpuSeconds: () => cpuOf(redis.pid) + cpuOf(postgres.pid),
    close: async () => {
      await Promise.all([redis.close(), postgres.close()])
    },
  }
}

/** The name of a capacity layout in logs, results and the table: "1 instance", "2 instances, by document". */
export function clusterLayoutLabel(layout: Plan['cluster']['capacity'][number]): string {
  return layout.instances === 1 ? '1 instance' : `${layout.instances} instances, ${layout.placement}`
}

/** The version a program prints with `--version`, or "unknown". */
function versionOf(program: string | null, pattern: RegExp): string {
  if (!program) return 'unknown'
  const printed = spawnSync(program, ['--version'], { encoding: 'utf8' }).stdout ?? ''
  return pattern.exec(printed)?.[1] ?? 'unknown'
}

let databases = 0

/**
 * `count` instances of a system in its cluster mode: REDIS_URL and DATABASE_URL set, as an operator runs them.
 * Every measurement starts clean: Redis restarted empty (it keeps nothing on disk) and a new PostgreSQL database.
 */
export function clusterLauncher(services: ClusterServices, count: number): Launcher {
  return async (ctx: BenchContext, spec, label) => {
    await services.redis.stop({ kill: true })
    await services.redis.start()
    const databaseUrl = await services.postgres.createDatabase(`bench_${process.pid}_${++databases}`)
    return startInstances(
      ctx,
      spec,
      `${label}-cluster`,
      count,
      { REDIS_URL: services.redis.url, DATABASE_URL: databaseUrl },
      services.cpuSeconds,
    )
  }
}
