import { createCollabEditor, type ProviderStatus } from '@collab/editor'
import { currentToken } from './auth.js'
import { brandMark } from './brand.js'
import { copyText } from './copy-link.js'
import { docNameProblem } from './doc-names.js'
import { h } from './dom.js'
import { createHistory } from './history-panel.js'
import { loadIdentity, saveIdentity } from './identity.js'
import { openIdentityForm } from './identity-form.js'
import { createPresenceBar } from './presence-bar.js'
import { createStatusIndicators } from './status-indicators.js'
import { closingLosesEdits, localStoreNotice, refusalMessage } from './status-labels.js'
import { syncServerUrl } from './sync-url.js'
import { exposeForTests } from './test-hook.js'

/**
 * How the page syncs its document: `?sync=ot` opens it with the @codemirror/collab client, anything else with
 * Yjs (the default).
 */
export function syncModeOf(search: string): 'yjs' | 'ot' {
  return new URLSearchParams(search).get('sync') === 'ot' ? 'ot' : 'yjs'
}

/** The page of one document: header with name, status and presence, and the editor below. */
export function mountDocPage(root: HTMLElement, name: string): () => void {
  document.title = `${name} · Collab`
  const header = h(
    'header',
    { class: 'doc-header' },
    h('div', { class: 'doc-heading' }, brandMark(), h('h1', { class: 'doc-title', title: name }, name)),
  )
  const bannerText = h('span', {})
  const banner = h(
    'div',
    { class: 'banner', role: 'alert', 'data-testid': 'status-error', hidden: true },
    bannerText,
    h('a', { href: '/', 'data-link': true }, 'All documents'),
  )
  const storeNotice = h('div', {
    class: 'banner notice',
    role: 'status',
    'data-testid': 'local-store-notice',
    hidden: true,
  })
  const editorHost = h('div', { class: 'editor-host', 'data-testid': 'editor' })
  // The editor's area, and the row in which the version history opens beside it.
  const docMain = h('div', { class: 'doc-main' }, editorHost)
  const docBody = h('div', { class: 'doc-body' }, docMain)
  root.append(h('div', { class: 'doc-page' }, header, banner, storeNotice, docBody))

  const problem = docNameProblem(name)
  if (problem) {
    bannerText.textContent = `This document name is invalid. ${problem}`
    banner.hidden = false
    return () => {}
  }

  const editor = createCollabEditor({
    parent: editorHost,
    serverUrl: syncServerUrl(),
    docName: name,
    user: loadIdentity(),
    token: currentToken,
    sync: syncModeOf(location.search),
    // The app keeps a copy of every document it opens, so it opens offline and edits survive a crash.
    localStore: true,
  })
  const indicators = createStatusIndicators()
  const presence = createPresenceBar(editor.presence, (anchor) => toggleIdentityForm(anchor))
  const copyButton = createCopyLinkButton()
  const history = createHistory({ docName: name, editor, body: docBody, main: docMain })
  header.append(
    h('div', { class: 'doc-header-status' }, indicators.element),
    h('div', { class: 'doc-header-people' }, presence.element, history.button, copyButton.element),
  )

  const showStatus = (status: ProviderStatus) => {
    indicators.update(status)
    const refusal = refusalMessage(status)
    bannerText.textContent = refusal ?? ''
    banner.hidden = refusal === null
    const notice = localStoreNotice(status)
    storeNotice.textContent = notice ?? ''
    storeNotice.hidden = notice === null
  }
  showStatus(editor.status)
  const stopStatus = editor.onStatus(showStatus)
  // Closing or reloading while a change is neither on the server nor on this device would lose it: ask first.
  const confirmLeaving = (event: BeforeUnloadEvent) => {
    if (!closingLosesEdits(editor.status)) return
    event.preventDefault()
    // Older browsers show the prompt only when returnValue is set.
    event.returnValue = ''
  }
  addEventListener('beforeunload', confirmLeaving)

  let closeIdentityForm: (() => void) | null = null
  const toggleIdentityForm = (anchor: HTMLElement) => {
    if (closeIdentityForm) {
      closeIdentityForm()
      return
    }
    closeIdentityForm = openIdentityForm(anchor, loadIdentity(), {
      onSave(next) {
        saveIdentity(next)
        editor.setUser(next)
      },
      onClose() {
        closeIdentityForm = null
      },
    })
  }

  const withdrawTestHook = exposeForTests(editor)
  editor.view.focus()

  return () => {
    closeIdentityForm?.()
    stopStatus()
    removeEventListener('beforeunload', confirmLeaving)
    presence.dispose()
    copyButton.dispose()
    history.dispose()
    withdrawTestHook()
    editor.destroy()
  }
}

function createCopyLinkButton(): { element: HTMLButtonElement; dispose(): void } {
  const label = 'Copy link'
  const element = h('button', { type: 'button', class: 'button', 'data-testid': 'copy-link' }, label)
  let resetTimer: ReturnType<typeof setTimeout> | undefined
  const flash = (text: string) => {
    element.textContent = text
    clearTimeout(resetTimer)
    resetTimer = setTimeout(() => {
      element.textContent = label
    }, 1600)
  }
  element.addEventListener('click', () => {
    copyText(location.href).then(
      () => flash('Copied'),
      (err: unknown) => {
        console.warn('copying the link failed', err)
        flash('Copy failed')
      },
    )
  })
  return { element, dispose: () => clearTimeout(resetTimer) }
}
