// The web app's service worker: serves the app shell (index.html and the built assets) when the server cannot be
// reached, so `/d/<name>` opens offline and the editor loads the document from the browser's local store.
//
// Built by offline-shell.ts into dist/sw.js with two constants in front of this file: SHELL_VERSION (a hash of the
// build's files, so every build is a new worker and a new cache) and SHELL_FILES (the paths to precache). Served
// from the root, so its scope is the whole app; the server sends it with `cache-control: no-cache`, so the browser
// sees a new build on the next navigation.
/* global SHELL_VERSION, SHELL_FILES */

const cachePrefix = 'collab-shell-'
const cacheName = `${cachePrefix}${SHELL_VERSION}`
// A navigation waits this long for the server before the cached shell is served: long enough for a slow network,
// short enough that a dead one (packets dropped, no error) does not leave the page blank.
const networkWaitMs = 2500

self.addEventListener('install', (event) => {
  // `reload` bypasses the HTTP cache: the shell of this build, not whatever the browser kept from an older one.
  event.waitUntil(
    caches
      .open(cacheName)
      .then((cache) => cache.addAll(SHELL_FILES.map((path) => new Request(path, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  )
})

self.addEventListener('activate', (event) => {
  // Older builds' shells go; their hashed assets would never be asked for again.
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(names.filter((n) => n.startsWith(cachePrefix) && n !== cacheName).map((n) => caches.delete(n))),
      )
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('fetch', (event) => {
  const request = event.request
  if (request.method !== 'GET') return
  const url = new URL(request.url)
  // The API and other origins are the network's business: offline they fail, and the app says so.
  if (url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return
  if (request.mode === 'navigate') {
    event.respondWith(navigation(request, url))
    return
  }
  if (SHELL_FILES.includes(url.pathname)) event.respondWith(shellFile(request))
})

/** A page load: the server's answer when it comes in time (so a new deploy shows at once), else the cached shell. */
async function navigation(request, url) {
  const fromNetwork = fetch(request)
  const late = new Promise((resolve) => setTimeout(resolve, networkWaitMs, null))
  try {
    const response = await Promise.race([fromNetwork, late])
    if (response) return response
  } catch {
    // No network, or the server refused: the cached shell below.
  }
  const cache = await caches.open(cacheName)
  // Every route of the app is index.html; other pages (embed-example.html) are served as themselves.
  const page = SHELL_FILES.includes(url.pathname) ? url.pathname : '/index.html'
  const cached = await cache.match(page)
  // Nothing cached (the worker is still installing): the network's answer whenever it comes, or its error.
  return cached ?? fromNetwork
}

/** A file of the shell: hashed assets never change, so the cached copy is the right one; the network otherwise. */
async function shellFile(request) {
  const cache = await caches.open(cacheName)
  return (await cache.match(request, { ignoreSearch: true })) ?? fetch(request)
}
