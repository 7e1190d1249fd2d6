// createCollabEditor without CodeMirror's basicSetup: the host brings its own extensions.
import { createCollabEditor } from '@collab/editor'

createCollabEditor({
  parent: document.body,
  serverUrl: 'ws://localhost:1234',
  docName: 'size',
  user: { name: 'A', color: '#000' },
  basicSetup: false,
})
