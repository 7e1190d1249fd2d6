// freePort lives in @collab/test-support; named here too for scripts/check-dockerfile.mjs, which imports it from
// this package.
export { freePort } from '@collab/test-support'
export { onExit, sleep } from './cleanup.js'
export { ensureProgram, findExecutable, postgresBinDir } from './install.js'
export { type PostgresServer, startPostgres } from './postgres-server.js'
export { type RedisServer, startRedis } from './redis-server.js'
