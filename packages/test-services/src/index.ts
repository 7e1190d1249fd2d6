export { freePort, onExit, sleep } from './cleanup.js'
export { ensureProgram, findExecutable, postgresBinDir } from './install.js'
export { type PostgresServer, startPostgres } from './postgres-server.js'
export { type RedisServer, startRedis } from './redis-server.js'
