import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A fresh directory on disk for one system's database files (the embedded benchmarks
 * measure storage on a real file system, not in memory), removed with everything in it.
 */
export class TempDir {
  readonly path: string

  constructor (prefix: string) {
    this.path = mkdtempSync(join(tmpdir(), `switchyard-bench-${prefix}-`))
  }

  file (name: string): string {
    return join(this.path, name)
  }

  remove (): void {
    rmSync(this.path, { recursive: true, force: true })
  }
}
