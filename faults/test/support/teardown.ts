import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Cleanup steps run in reverse order of registration, like nested `finally` blocks; errors are collected. */
export class Teardown {
  private readonly steps: Array<() => unknown> = []

  defer(step: () => unknown): void {
    this.steps.push(step)
  }

  async run(): Promise<void> {
    const errors: unknown[] = []
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step()
      } catch (err) {
        errors.push(err)
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'teardown failed')
  }
}

/** A fresh temporary directory, removed by `teardown`. */
export function tempDir(teardown: Teardown, prefix = 'collab-faults-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  teardown.defer(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
