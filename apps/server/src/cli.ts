#!/usr/bin/env node
import { pino } from 'pino'
import { helpText, loadConfig } from './config.js'
import { startServer } from './main.js'
import { missingNodeFlags, serverNodeFlags } from './node-flags.js'
import { signalVerdict } from './shutdown-signals.js'

const result = loadConfig(process.argv.slice(2), process.env)
if (result.kind === 'help') {
  console.log(helpText())
  process.exit(0)
}
if (result.kind === 'error') {
  console.error(result.message)
  process.exit(2)
}
const { config } = result
const logger = pino({ level: config.logLevel })

let server: Awaited<ReturnType<typeof startServer>>
try {
  server = await startServer({ ...config, logger })
} catch (err) {
  const message = err instanceof Error ? err.message : String(err)
  // The two start-up failures people hit: the port is taken, or another server has the data directory open.
  const hint = /EADDRINUSE/.test(message)
    ? ` (port ${config.port} is in use; pick another with --port or PORT)`
    : /lock/i.test(message)
      ? ` (is another server using ${config.dataDir}? choose another with --data or DATA_DIR)`
      : ''
  logger.fatal({ err: message }, `could not start${hint}`)
  console.error(`collab-server: could not start: ${message}${hint}`)
  process.exit(1)
}
// Scripts and people wait for this line; programs read the address from its `url` field (listeningUrl() of
// @collab/test-support) rather than from the message.
logger.info({ dataDir: config.dataDir, url: server.url }, `listening on ${server.url}`)
// Print it even when the log level hides info lines.
if (!logger.isLevelEnabled('info')) console.log(`listening on ${server.url}`)
const missingFlags = missingNodeFlags(process.execArgv, process.env.NODE_OPTIONS)
if (missingFlags.length > 0) {
  logger.info(
    { missing: missingFlags, recommended: serverNodeFlags },
    `started without ${missingFlags.join(' ')}: more garbage-collection work under load (docs/OPERATIONS.md)`,
  )
}

// One shutdown however it is asked for: a signal to the process group arrives here more than once.
let firstSignalAt: number | null = null
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    const now = performance.now()
    const verdict = signalVerdict(firstSignalAt, now)
    if (verdict === 'already shutting down') {
      logger.info({ signal }, 'repeated signal: already shutting down')
      return
    }
    if (verdict === 'exit now') {
      logger.warn({ signal }, 'signal during shutdown: exiting without waiting')
      process.exit(1)
    }
    firstSignalAt = now
    logger.info({ signal }, 'shutting down')
    server.close().then(
      () => {
        logger.info('stopped')
        process.exit(0)
      },
      (err: unknown) => {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'shutdown failed')
        process.exit(1)
      },
    )
  })
}
