// Which build is running, for GetHealth: SWITCHYARD_COMMIT when a deployment sets it,
// else the checkout's HEAD read from .git (no git binary needed), else "unknown".
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

async function gitDir (from: string): Promise<string | null> {
  let dir = from
  for (let i = 0; i < 10; i++) {
    try {
      await readFile(join(dir, '.git', 'HEAD'), 'utf8')
      return join(dir, '.git')
    } catch {
      const parent = dirname(dir)
      if (parent === dir) return null
      dir = parent
    }
  }
  return null
}

export async function readCommit (env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.SWITCHYARD_COMMIT !== undefined && env.SWITCHYARD_COMMIT !== '') return env.SWITCHYARD_COMMIT
  const git = await gitDir(dirname(fileURLToPath(import.meta.url)))
  if (git === null) return 'unknown'
  try {
    const head = (await readFile(join(git, 'HEAD'), 'utf8')).trim()
    if (!head.startsWith('ref: ')) return head.slice(0, 40)
    const ref = head.slice(5)
    try {
      return (await readFile(join(git, ref), 'utf8')).trim().slice(0, 40)
    } catch {
      const packed = await readFile(join(git, 'packed-refs'), 'utf8').catch(() => '')
      const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`))
      return line?.split(' ')[0]?.slice(0, 40) ?? 'unknown'
    }
  } catch {
    return 'unknown'
  }
}
