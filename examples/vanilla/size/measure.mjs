// Bundle size of each way to embed the editor, as an app's production build makes it: Vite (Rolldown), minified,
// from the packed tarballs installed here. Run after scripts/build-examples.mjs:
//
//   cd examples/vanilla && node size/measure.mjs
//   cd examples/react && node ../vanilla/size/measure.mjs size    (the React variant, with its own dependencies)
//
// Prints one Markdown table row per variant: minified and gzipped bytes of the JavaScript, everything included
// (CodeMirror, Yjs, lib0, our packages).
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'vite'

/** The directory of the variants: the one given, else this one. */
const here = process.argv[2] ? resolve(process.argv[2]) : fileURLToPath(new URL('.', import.meta.url))
const outDir = join(here, '..', 'dist-size')
const variants = readdirSync(here).filter((file) => /\.tsx?$/.test(file))

console.log('| variant | minified | gzipped |\n| --- | ---: | ---: |')
for (const file of variants) {
  rmSync(outDir, { recursive: true, force: true })
  await build({
    configFile: false,
    logLevel: 'silent',
    oxc: { jsx: { runtime: 'automatic' } },
    define: { 'process.env.NODE_ENV': '"production"' },
    build: {
      outDir,
      target: 'es2022',
      rolldownOptions: { input: join(here, file), output: { entryFileNames: 'bundle.js', codeSplitting: false } },
    },
  })
  const code = readFileSync(join(outDir, 'bundle.js'))
  const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`
  console.log(`| ${file.replace(/\.tsx?$/, '')} | ${kb(code.length)} | ${kb(gzipSync(code, { level: 9 }).length)} |`)
}
rmSync(outDir, { recursive: true, force: true })
