// Embedding the collaborative editor in a plain page. `?doc=<name>` picks the document.
import { createCollabEditor, type ProviderStatus } from '@collab/editor'

const parent = document.querySelector<HTMLElement>('#editor')
const statusLabel = document.querySelector<HTMLElement>('#status')
if (!parent || !statusLabel) throw new Error('the page needs #editor and #status elements')

const editor = createCollabEditor({
  parent,
  // The server that serves this page is also the sync server.
  serverUrl: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`,
  docName: new URLSearchParams(location.search).get('doc') ?? 'embed-example',
  user: { name: 'Guest', color: '#2f80ed' },
  // Called before every connection. A real app asks its own backend for a token (docs/SECURITY.md); this example
  // uses the collab server's development tokens when they are on, and no token when authentication is off.
  token: async () => {
    const response = await fetch('/api/dev-token')
    return response.ok ? ((await response.json()) as { token: string }).token : ''
  },
})

const showStatus = (status: ProviderStatus) => {
  statusLabel.textContent = `${status.connection} · ${status.unsaved ? 'saving…' : 'saved'}`
}
showStatus(editor.status)
editor.onStatus(showStatus)
