import { createCollabEditor, type ProviderStatus } from '@collab/editor'
import * as Y from 'yjs'

// This page is the host app: it runs on its own origin and asks its own backend (server.mjs) where the collab
// server is and for a token before each connection. The collab server lists this origin in --allowed-origins.

interface HostConfig {
  /** WebSocket URL of the collab server, e.g. wss://collab.example.com. */
  serverUrl: string
}

const params = new URLSearchParams(location.search)
const docName = params.get('doc') ?? 'example'
const userName = params.get('user') ?? `Guest ${Math.floor(Math.random() * 1000)}`

/** Asks the host's backend for a short-lived token for this document; it decides who may open what. */
async function fetchToken(): Promise<string> {
  const response = await fetch(`/api/collab-token?doc=${encodeURIComponent(docName)}`)
  if (!response.ok) throw new Error(`token request failed: ${response.status}`)
  return ((await response.json()) as { token: string }).token
}

function describe(status: ProviderStatus): string {
  if (status.error) return `error ${status.error.code}: ${status.error.reason}`
  const saved = status.unsaved ? 'saving…' : 'saved'
  return `${status.connection} · ${saved}${status.readOnly ? ' · read-only' : ''}`
}

async function start() {
  const config = (await (await fetch('/api/config')).json()) as HostConfig
  const editor = createCollabEditor({
    parent: document.querySelector<HTMLElement>('#editor')!,
    serverUrl: config.serverUrl,
    docName,
    user: { name: userName, color: '#0f766e' },
    token: fetchToken,
  })
  const statusLine = document.querySelector('#status')!
  const show = (status: ProviderStatus) => {
    statusLine.textContent = describe(status)
  }
  show(editor.status)
  editor.onStatus(show)
  return editor
}

const editor = await start()
// The host's own Yjs (pinned in package.json) is the one the editor uses: one instance on the page.
const sharesYjs = 'ytext' in editor && editor.ytext instanceof Y.Text
if (!sharesYjs) console.error('@collab/editor is running on another copy of yjs than this app')
Object.assign(window, { collabExample: { editor, sharesYjs } })
