import './styles.css'
import { mountDocPage } from './doc-page.js'
import { mountHomePage } from './home-page.js'
import { mountNotFoundPage } from './not-found-page.js'
import { registerOfflineShell } from './offline-shell-registration.js'
import { type Route, startRouter } from './router.js'

const app = document.querySelector<HTMLElement>('#app')
if (!app) throw new Error('index.html has no #app element')
const root: HTMLElement = app

let unmountCurrent: (() => void) | null = null

function show(route: Route): void {
  unmountCurrent?.()
  root.replaceChildren()
  window.scrollTo(0, 0)
  switch (route.page) {
    case 'home':
      unmountCurrent = mountHomePage(root)
      break
    case 'doc':
      unmountCurrent = mountDocPage(root, route.name)
      break
    case 'not-found':
      unmountCurrent = mountNotFoundPage(root)
      break
  }
}

startRouter(show)
registerOfflineShell()
