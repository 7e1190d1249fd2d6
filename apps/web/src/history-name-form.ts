import { h } from './dom.js'

/** What a name is for: a new named version of the current text, or a new name for an existing version. */
export type NameTarget = { kind: 'create' } | { kind: 'rename'; id: string }

/** Longest version name the form accepts, in characters: the server's limit (`maxVersionNameLength`, [VH1]). */
export const maxVersionNameLength = 200

/** The inline form of the history panel that names the current version or renames one. */
export interface NameForm {
  element: HTMLFormElement
  open(target: NameTarget, initial: string): void
  close(): void
}

/**
 * Creates the form, hidden until opened. `onSubmit` saves the name and resolves to `null`, or to what to tell the
 * user when it could not; the form stays open (with the message) until it succeeds or is cancelled.
 */
export function createNameForm(callbacks: {
  onSubmit(name: string, target: NameTarget): Promise<string | null>
}): NameForm {
  const label = h('label', { for: 'history-name', class: 'field-label' })
  const input = h('input', {
    id: 'history-name',
    class: 'text-input',
    'data-testid': 'history-name-input',
    maxlength: maxVersionNameLength,
    autocomplete: 'off',
    placeholder: 'e.g. First draft',
  })
  const error = h('p', { class: 'field-error', role: 'alert', hidden: true })
  const cancel = h('button', { type: 'button', class: 'button' }, 'Cancel')
  const save = h('button', { type: 'submit', class: 'button primary', 'data-testid': 'history-name-save' }, 'Save')
  const element = h(
    'form',
    { class: 'history-name-form', 'data-testid': 'history-name-form', hidden: true },
    label,
    input,
    error,
    h('div', { class: 'form-actions' }, cancel, save),
  )
  element.noValidate = true

  let target: NameTarget = { kind: 'create' }
  let saving = false
  const showError = (text: string | null) => {
    error.textContent = text ?? ''
    error.hidden = text === null
    input.setAttribute('aria-invalid', String(text !== null))
  }
  const close = () => {
    element.hidden = true
    showError(null)
  }
  cancel.addEventListener('click', close)
  input.addEventListener('input', () => showError(null))
  element.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return
    event.preventDefault()
    close()
  })
  element.addEventListener('submit', (event) => {
    event.preventDefault()
    if (saving) return
    const name = input.value.trim()
    if (name === '') {
      showError('Enter a name, such as “First draft”.')
      input.focus()
      return
    }
    saving = true
    save.disabled = true
    save.textContent = 'Saving…'
    callbacks.onSubmit(name, target).then(
      (problem) => {
        saving = false
        save.disabled = false
        save.textContent = 'Save'
        if (problem === null) close()
        else showError(problem)
      },
      (err: unknown) => {
        // onSubmit reports failures as its result; a rejection is a bug, so say so rather than hang on "Saving…".
        console.error('saving the version name failed', err)
        saving = false
        save.disabled = false
        save.textContent = 'Save'
        showError('The name could not be saved.')
      },
    )
  })

  return {
    element,
    open(next, initial) {
      target = next
      label.textContent = next.kind === 'create' ? 'Name the current version' : 'Name this version'
      input.value = initial
      showError(null)
      element.hidden = false
      input.focus()
      input.select()
    },
    close,
  }
}
