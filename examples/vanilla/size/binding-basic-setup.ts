// binding-only plus CodeMirror's basicSetup: what basicSetup itself costs.
import { EditorView } from '@codemirror/view'
import { collab } from '@collab/editor'
import { CollabProvider } from '@collab/provider'
import { basicSetup } from 'codemirror'
import { Awareness } from 'y-protocols/awareness'
import * as Y from 'yjs'

const doc = new Y.Doc()
const ytext = doc.getText('codemirror')
const awareness = new Awareness(doc)
new CollabProvider({ serverUrl: 'ws://localhost:1234', docName: 'size', doc, awareness })
new EditorView({ doc: ytext.toString(), extensions: [basicSetup, collab(ytext, awareness)], parent: document.body })
