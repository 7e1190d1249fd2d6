/**
 * Registers the service worker that serves the app shell offline (`/sw.js`, built by `offline/offline-shell.ts`).
 * Only in a production build: in `vite dev` a worker would cache modules that change on every edit.
 */
export function registerOfflineShell(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return
  // After the page loaded, so installing (which downloads the whole shell) does not compete with the first render.
  const register = () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((err: unknown) => {
      // Insecure origins (plain http other than localhost) and some private modes refuse workers; the app works
      // without one, it just does not open offline.
      console.warn('[collab] the app shell cannot be kept for offline use:', err)
    })
  }
  if (document.readyState === 'complete') register()
  else addEventListener('load', register, { once: true })
}
