import { h } from './dom.js'
import { type Identity, maxNameLength, palette } from './identity.js'

/** What the identity form reports. */
export interface IdentityFormCallbacks {
  /** The user saved a new name and colour. */
  onSave(next: Identity): void
  /** The form closed, whichever way. */
  onClose(): void
}

/**
 * Opens a small popover under `anchor` to change the user's name and colour. Escape, Cancel or a click outside
 * close it without changes. Returns the function that closes it.
 */
export function openIdentityForm(anchor: HTMLElement, current: Identity, callbacks: IdentityFormCallbacks): () => void {
  const nameInput = h('input', {
    id: 'identity-name',
    class: 'text-input',
    'data-testid': 'identity-name',
    value: current.name,
    maxlength: maxNameLength,
    autocomplete: 'nickname',
    required: true,
  })
  const colors = [...palette]
  if (!colors.some((entry) => entry.color === current.color)) colors.push({ name: 'Custom', color: current.color })
  const swatches = colors.map(({ name, color }) => {
    const radio = h('input', {
      type: 'radio',
      name: 'identity-color',
      value: color,
      'aria-label': name,
      checked: color === current.color,
    })
    const swatch = h('label', { class: 'swatch', title: name }, radio)
    swatch.style.setProperty('--swatch', color)
    return swatch
  })
  const error = h('p', { class: 'field-error', role: 'alert', hidden: true })
  const cancel = h('button', { type: 'button', class: 'button' }, 'Cancel')
  const form = h(
    'form',
    { class: 'identity-form', 'data-testid': 'identity-form', role: 'dialog', 'aria-label': 'Your name and colour' },
    h('label', { for: 'identity-name', class: 'field-label' }, 'Your name'),
    nameInput,
    h('div', { class: 'field-label' }, 'Colour'),
    h('div', { class: 'swatches', role: 'radiogroup', 'aria-label': 'Colour' }, ...swatches),
    error,
    h(
      'div',
      { class: 'form-actions' },
      cancel,
      h('button', { type: 'submit', class: 'button primary', 'data-testid': 'identity-save' }, 'Save'),
    ),
  )
  form.noValidate = true

  const rect = anchor.getBoundingClientRect()
  form.style.top = `${rect.bottom + 8}px`
  form.style.right = `${Math.max(12, document.documentElement.clientWidth - rect.right)}px`

  let open = true
  const close = () => {
    if (!open) return
    open = false
    form.remove()
    document.removeEventListener('pointerdown', closeOnOutsideClick, true)
    document.removeEventListener('keydown', closeOnEscape, true)
    callbacks.onClose()
  }
  const closeOnOutsideClick = (event: PointerEvent) => {
    if (event.target instanceof Node && !form.contains(event.target) && !anchor.contains(event.target)) close()
  }
  const closeOnEscape = (event: KeyboardEvent) => {
    if (event.key !== 'Escape') return
    close()
    anchor.focus()
  }
  cancel.addEventListener('click', close)
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const name = nameInput.value.trim()
    if (name === '') {
      error.textContent = 'Enter a name others will see.'
      error.hidden = false
      nameInput.focus()
      return
    }
    const checked = form.querySelector<HTMLInputElement>('input[name="identity-color"]:checked')
    callbacks.onSave({ name, color: checked?.value ?? current.color })
    close()
  })
  document.addEventListener('pointerdown', closeOnOutsideClick, true)
  document.addEventListener('keydown', closeOnEscape, true)
  document.body.append(form)
  nameInput.select()
  return close
}
