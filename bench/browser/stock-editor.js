// The peers' editor for bench workload 16: a CodeMirror 6 editor bound to a Y.Text with y-codemirror.next, as the
// Yjs documentation and yjs-demos set it up, over the stock y-websocket client (`?provider=y-websocket`, for
// y-websocket-server) or HocuspocusProvider (`?provider=hocuspocus`), each with its default settings.
// `?server=<ws url>&room=<name>&user=<name>`. The page exposes `window.bench` for the workload to read.
import { HocuspocusProvider } from '@hocuspocus/provider'
import { basicSetup, EditorView } from 'codemirror'
import { yCollab } from 'y-codemirror.next'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'

const params = new URLSearchParams(location.search)
const server = params.get('server')
const room = params.get('room')
const kind = params.get('provider')
if (!server || !room) throw new Error('the page needs ?server=<ws url>&room=<name>')

const doc = new Y.Doc()
const ytext = doc.getText('codemirror')
let provider
let synced
if (kind === 'hocuspocus') {
  provider = new HocuspocusProvider({ url: server, name: room, document: doc })
  synced = () => provider.synced
} else if (kind === 'y-websocket') {
  provider = new WebsocketProvider(server, room, doc)
  synced = () => provider.synced
} else {
  throw new Error(`unknown provider ${kind}`)
}

const color = '#14958a'
provider.awareness.setLocalStateField('user', {
  name: params.get('user') ?? 'Anonymous',
  color,
  colorLight: `${color}33`,
})

new EditorView({
  doc: ytext.toString(),
  extensions: [basicSetup, yCollab(ytext, provider.awareness)],
  parent: document.getElementById('editor'),
})

window.bench = { doc, ytext, synced }
