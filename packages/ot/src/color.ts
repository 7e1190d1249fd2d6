/**
 * `color` at 20% opacity: the selection background others see (the awareness field `user.colorLight`). Hex colours
 * get an alpha suffix (`#2f80ed` -> `#2f80ed33`, the y-codemirror.next convention, which any Yjs CodeMirror client
 * understands); other CSS colours go through `color-mix`. Shared by the editor (Yjs clients) and the server (the
 * awareness states it writes for OT clients, [OT8]).
 */
export function lightColor(color: string): string {
  if (/^#[0-9a-f]{6}$/i.test(color)) return `${color}33`
  if (/^#[0-9a-f]{3}$/i.test(color)) return `${color}3`
  return `color-mix(in srgb, ${color} 20%, transparent)`
}
