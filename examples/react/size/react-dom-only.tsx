// React and react-dom alone, to subtract from the react variant.
import { createRoot } from 'react-dom/client'

createRoot(document.body).render(<p>size</p>)
