import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import ts from 'typescript'
import type { Teardown } from './teardown.js'

/**
 * Starts a TypeScript module of this folder in a worker thread, for load that must not share the test's event
 * loop (a flooding client, whose sends would otherwise delay the measuring clients' own timers and reads).
 *
 * vitest compiles TypeScript for the test's own thread only, and Node 20 cannot run it. So the module and the
 * modules of this folder it imports are transpiled (types erased; `tsc` checks them with the rest of the suite)
 * into a temporary folder that links to the repository's node_modules, where package imports resolve as they do
 * here. Terminated, and the folder removed, by `teardown`.
 */
export function startWorker(entry: string, workerData: unknown, teardown: Teardown): Worker {
  const sourceDir = dirname(fileURLToPath(import.meta.url))
  const outDir = mkdtempSync(join(tmpdir(), 'collab-faults-worker-'))
  teardown.defer(() => rmSync(outDir, { recursive: true, force: true }))
  // ws is a dependency of this suite: its package.json is in the node_modules the suite resolves from.
  const nodeModules = dirname(dirname(createRequire(import.meta.url).resolve('ws/package.json')))
  symlinkSync(nodeModules, join(outDir, 'node_modules'), 'dir')
  writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type: 'module' }))
  transpileTree(sourceDir, entry, outDir, new Set())
  const worker = new Worker(pathToFileURL(join(outDir, entry.replace(/\.ts$/, '.js'))), { workerData })
  teardown.defer(() => worker.terminate())
  return worker
}

/** Transpiles `file` (a name in `sourceDir`) and, recursively, the modules of `sourceDir` it imports. */
function transpileTree(sourceDir: string, file: string, outDir: string, done: Set<string>): void {
  if (done.has(file)) return
  done.add(file)
  const source = readFileSync(join(sourceDir, file), 'utf8')
  const output = ts.transpileModule(source, {
    fileName: file,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
    },
  })
  writeFileSync(join(outDir, file.replace(/\.ts$/, '.js')), output.outputText)
  for (const { fileName } of ts.preProcessFile(source, true, true).importedFiles) {
    if (!fileName.startsWith('.')) continue
    if (!fileName.startsWith('./') || fileName.slice(2).includes('/')) {
      throw new RangeError(`${file} imports ${fileName}: a worker module may import only modules of its own folder`)
    }
    transpileTree(sourceDir, basename(fileName).replace(/\.js$/, '.ts'), outDir, done)
  }
}
