// createCollabEditor with its defaults: basicSetup, Yjs sync, presence cursors.
import { createCollabEditor } from '@collab/editor'

createCollabEditor({
  parent: document.body,
  serverUrl: 'ws://localhost:1234',
  docName: 'size',
  user: { name: 'A', color: '#000' },
})
