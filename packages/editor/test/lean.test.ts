// @vitest-environment happy-dom
/// <reference types="node" />
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { lineNumbers } from '@codemirror/view'
import { describe, expect, it } from 'vitest'
import { createCollabEditor } from '../src/lean.js'
import { FakeAuthority } from './fake-authority.js'

describe('@collab/editor/lean', () => {
  it('builds the Yjs editor with the setup the host gives, and nothing by default', () => {
    const options = {
      serverUrl: 'ws://fake',
      docName: 'doc',
      user: { name: 'Ada', color: '#3a7bd5' },
      WebSocketImpl: new FakeAuthority().socketClass(),
    }
    const bare = createCollabEditor({ ...options, parent: document.createElement('div') })
    const numbered = createCollabEditor({ ...options, parent: document.createElement('div'), setup: lineNumbers() })
    expect(bare.sync).toBe('yjs')
    expect(bare.view.dom.querySelector('.cm-lineNumbers')).toBeNull()
    expect(numbered.view.dom.querySelector('.cm-lineNumbers')).not.toBeNull()
    bare.ytext.insert(0, 'shared')
    expect(bare.view.state.doc.toString()).toBe('shared')
    bare.destroy()
    numbered.destroy()
  })

  it('imports neither basicSetup nor the OT client, so a bundle of it carries neither', () => {
    // What the entry point pulls in, file by file: a bundler follows exactly these imports.
    const seen = new Set<string>()
    const visit = (file: string) => {
      if (seen.has(file)) return
      seen.add(file)
      // vitest runs in the package directory (happy-dom's import.meta.url is not a file URL).
      const source = readFileSync(join(process.cwd(), 'src', file), 'utf8')
      expect(source, file).not.toMatch(/from 'codemirror'|from '@codemirror\/collab'/)
      for (const match of source.matchAll(/^import (?!type)[^;]*? from '\.\/([\w-]+)\.js'/gm)) visit(`${match[1]}.ts`)
    }
    visit('lean.ts')
    expect(seen.has('ot-session.ts')).toBe(false)
    expect(seen.has('yjs-editor.ts')).toBe(true)
  })
})
