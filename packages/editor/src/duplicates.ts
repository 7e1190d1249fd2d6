const fix =
  'make sure one copy is installed and bundled: `npm ls @codemirror/state` / `npm dedupe`, @codemirror/* as peer ' +
  "dependencies of your packages, and `resolve: { dedupe: ['@codemirror/state', '@codemirror/view'] }` in Vite"

/**
 * Runs `create` (which builds a state from the host's extensions) and says why it failed if the reason is a
 * second copy of @codemirror/state: its extensions are not `instanceof` ours, and CodeMirror refuses them with
 * "Unrecognized extension value". Any other error is the host's and is thrown on.
 */
export function foreignExtensionProblem(create: () => unknown): string | null {
  try {
    create()
    return null
  } catch (err) {
    if (err instanceof Error && /Unrecognized extension value/.test(err.message)) {
      return `an extension in \`extensions\` comes from another copy of @codemirror/state than @collab/editor's; ${fix}`
    }
    throw err
  }
}
