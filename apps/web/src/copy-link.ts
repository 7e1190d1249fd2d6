/** Puts `text` on the clipboard; resolves once it is there, rejects when the browser refuses both ways. */
export async function copyText(text: string): Promise<void> {
  // The async Clipboard API exists only in secure contexts (https, localhost); plain http on a LAN lacks it.
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text)
      return
    } catch (err) {
      console.warn('navigator.clipboard refused; falling back to a selection copy', err)
    }
  }
  copyWithSelection(text)
}

function copyWithSelection(text: string): void {
  const field = document.createElement('textarea')
  field.value = text
  field.setAttribute('readonly', '')
  field.style.position = 'fixed'
  field.style.opacity = '0'
  document.body.append(field)
  const previousFocus = document.activeElement
  field.select()
  try {
    // Deprecated, but the only way to copy without the Clipboard API.
    if (!document.execCommand('copy')) throw new Error('the browser refused to copy')
  } finally {
    field.remove()
    if (previousFocus instanceof HTMLElement) previousFocus.focus()
  }
}
