// <CollabEditorView> from @collab/react with its defaults, plus React and react-dom themselves.
import { CollabEditorView } from '@collab/react'
import { createRoot } from 'react-dom/client'

createRoot(document.body).render(
  <CollabEditorView serverUrl="ws://localhost:1234" docName="size" user={{ name: 'A', color: '#000' }} />,
)
