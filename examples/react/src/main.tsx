import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './app.js'

// StrictMode mounts, unmounts and mounts every component again in development: the editor must survive that with
// one socket and one view (useCollabEditor creates it in an effect and destroys it in the cleanup).
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
)
