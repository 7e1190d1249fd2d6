import { createServer } from 'node:net'

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a program that must be told its port before it starts
 * (Redis, PostgreSQL, nginx). A server of our own listens on port 0 instead, which leaves no window for a race.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}
