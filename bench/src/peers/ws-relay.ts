// The floor: a WebSocket server that relays every message to the other sockets of the same URL path and does
// nothing else (no parsing, no document, no storage). What no sync server can beat on this machine.
// Run: PORT=1234 HOST=127.0.0.1 node dist/peers/ws-relay.js
import { type RawData, type WebSocket, WebSocketServer } from 'ws'

const host = process.env.HOST ?? '127.0.0.1'
const port = Number(process.env.PORT ?? 1234)
const rooms = new Map<string, Set<WebSocket>>()

const wss = new WebSocketServer({ host, port, perMessageDeflate: false })
wss.on('connection', (ws, req) => {
  const name = req.url ?? '/'
  let room = rooms.get(name)
  if (!room) {
    room = new Set()
    rooms.set(name, room)
  }
  const peers = room
  peers.add(ws)
  ws.on('message', (data: RawData, isBinary: boolean) => {
    for (const peer of peers) if (peer !== ws) peer.send(data, { binary: isBinary })
  })
  ws.on('error', () => ws.terminate())
  ws.on('close', () => {
    peers.delete(ws)
    if (peers.size === 0) rooms.delete(name)
  })
})
wss.on('listening', () => console.log(`listening on ws://${host}:${port}`))
