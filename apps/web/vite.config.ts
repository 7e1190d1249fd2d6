import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { defineConfig, type Plugin } from 'vite'
import { offlineShell } from './offline/offline-shell.js'

/** Where `npm run dev` expects the sync server (`npm start` in another terminal); `COLLAB_PORT` overrides the port. */
const syncServer = { host: 'localhost', port: Number(process.env.COLLAB_PORT ?? 1234) }

export default defineConfig({
  resolve: {
    alias: {
      // embed-example.html runs the editor package's example as is, in dev and in the build.
      '/embed-example/main.ts': fileURLToPath(new URL('../../packages/editor/example/main.ts', import.meta.url)),
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    rolldownOptions: {
      input: {
        main: fileURLToPath(new URL('index.html', import.meta.url)),
        // The @collab/editor embedding example, served by the server as /embed-example.html (e2e tests use it).
        'embed-example': fileURLToPath(new URL('embed-example.html', import.meta.url)),
      },
    },
  },
  server: {
    proxy: { '/api': `http://${syncServer.host}:${syncServer.port}` },
  },
  plugins: [proxySyncWebSockets(syncServer), offlineShell()],
})

/**
 * Forwards the app's sync WebSockets to the server in development. They cannot go through `server.proxy`: their
 * path is the document name, any path at all, and a proxy rule for every path would also swallow the page's own
 * HTTP requests. Vite's HMR socket is told apart by its subprotocol and left to Vite.
 */
function proxySyncWebSockets(target: { host: string; port: number }): Plugin {
  return {
    name: 'collab:proxy-sync-websockets',
    apply: 'serve',
    configureServer(server) {
      server.httpServer?.on('upgrade', (req, socket, head) => {
        const protocol = req.headers['sec-websocket-protocol'] ?? ''
        if (protocol === 'vite-hmr' || protocol === 'vite-ping') return
        const upstream = connect(target.port, target.host, () => {
          const headerLines: string[] = []
          for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
            headerLines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`)
          }
          upstream.write(`${req.method} ${req.url} HTTP/${req.httpVersion}\r\n${headerLines.join('\r\n')}\r\n\r\n`)
          if (head.length > 0) upstream.write(head)
          socket.pipe(upstream).pipe(socket)
        })
        upstream.on('error', (err) => {
          server.config.logger.warn(`sync server at ${target.host}:${target.port} unreachable: ${err.message}`)
          socket.destroy()
        })
        socket.on('error', () => upstream.destroy())
      })
    },
  }
}
