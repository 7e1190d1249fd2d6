import { type ProviderStatus, useCollabEditor } from '@collab/react'
import { useState } from 'react'

const params = new URLSearchParams(location.search)
/** The collab server; the same one serves this example in development, so its origin is allowed. */
const serverUrl = params.get('server') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`

/** Development tokens of the collab server (`--dev-tokens`); a real app asks its own backend (docs/EMBEDDING.md). */
async function fetchToken(docName: string): Promise<string> {
  const response = await fetch(`${serverUrl.replace(/^ws/, 'http')}/api/dev-token?doc=${encodeURIComponent(docName)}`)
  return response.ok ? ((await response.json()) as { token: string }).token : ''
}

function describe(status: ProviderStatus | null): string {
  if (status === null) return 'starting'
  if (status.error) return `error ${status.error.code}: ${status.error.reason}`
  return `${status.connection} · ${status.unsaved ? 'saving…' : 'saved'}`
}

export function App() {
  const [docName, setDocName] = useState(params.get('doc') ?? 'example')
  const [name, setName] = useState('Guest')
  const { ref, status } = useCollabEditor({
    serverUrl,
    docName,
    user: { name, color: '#7c3aed' },
    token: () => fetchToken(docName),
  })
  return (
    <main style={{ font: '15px/1.4 system-ui, sans-serif', maxWidth: '60rem', margin: '0 auto' }}>
      <header style={{ display: 'flex', gap: '1rem', alignItems: 'baseline' }}>
        <h1>Notes</h1>
        <label>
          Document <input value={docName} onChange={(event) => setDocName(event.target.value || 'example')} />
        </label>
        <label>
          Name <input value={name} onChange={(event) => setName(event.target.value)} />
        </label>
        <span role="status">{describe(status)}</span>
      </header>
      <div ref={ref} style={{ height: '70vh', border: '1px solid #ccc' }} />
    </main>
  )
}
