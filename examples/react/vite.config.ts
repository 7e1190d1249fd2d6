import { defineConfig } from 'vite'

// No React plugin: the build needs only the JSX transform, which Vite does itself; Fast Refresh is for `vite dev`.
export default defineConfig({
  oxc: { jsx: { runtime: 'automatic' } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
})
