/** The pages of the app, from the URL path. */
export type Route = { page: 'home' } | { page: 'doc'; name: string } | { page: 'not-found' }

/** Reads the route from a URL path: `/` is home, `/d/<name>` a document (the name percent-decoded). */
export function parseRoute(pathname: string): Route {
  if (pathname === '/' || pathname === '/index.html') return { page: 'home' }
  if (pathname.startsWith('/d/')) {
    try {
      return { page: 'doc', name: decodeURIComponent(pathname.slice('/d/'.length)) }
    } catch {
      // Malformed percent-encoding (`/d/%E0`): no document can have that name.
      return { page: 'not-found' }
    }
  }
  return { page: 'not-found' }
}

/** The path of a document's page. Names may contain `/`; each segment is encoded so the URL stays readable. */
export function docPath(name: string): string {
  return `/d/${name.split('/').map(encodeURIComponent).join('/')}`
}

let showRoute: ((route: Route) => void) | null = null

/** Goes to `path` inside the app, without reloading the page. */
export function navigate(path: string): void {
  history.pushState(null, '', path)
  showRoute?.(parseRoute(location.pathname))
}

/**
 * Shows the page for the current URL with `show`, and again on back/forward and on clicks on in-app links
 * (`<a data-link>`), which then do not reload the page.
 */
export function startRouter(show: (route: Route) => void): void {
  showRoute = show
  addEventListener('popstate', () => show(parseRoute(location.pathname)))
  document.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest<HTMLAnchorElement>('a[data-link]') : null
    // Leave modified clicks (new tab, new window, download) to the browser.
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
    event.preventDefault()
    navigate(link.pathname + link.search)
  })
  show(parseRoute(location.pathname))
}
