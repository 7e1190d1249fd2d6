import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Teardown } from '@collab/test-support'

export { Teardown }

/** A fresh temporary directory, removed by `teardown`. */
export function tempDir(teardown: Teardown, prefix = 'collab-faults-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  teardown.defer(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
