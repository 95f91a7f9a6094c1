// Builds never pull: a FROM image the engine does not have would make Docker fetch it
// from a registry even with pull=false (that flag only forces re-pulls), which is the
// network a build must not have. So the Dockerfile's base images are read and each is
// looked up before the build starts; a missing one refuses the build.
import { readFile } from 'node:fs/promises'
import { RuntimeDockerErrors } from './errors.ts'

/** Dockerfiles larger than this are not parsed (the engine would refuse them too). */
const MAX_DOCKERFILE_BYTES = 1024 * 1024

/** The external images a Dockerfile's FROM lines name, in order, without stages it builds itself or `scratch`. */
export function baseImagesOf (dockerfile: string): string[] {
  const lines = logicalLines(dockerfile)
  const args = new Map<string, string>()
  const stages = new Set<string>()
  const images: string[] = []
  let seenFrom = false
  for (const line of lines) {
    const [instruction, ...rest] = line.split(/\s+/)
    const keyword = (instruction ?? '').toUpperCase()
    // ARGs before the first FROM are the ones FROM lines may use; their defaults apply (no build args are passed).
    if (keyword === 'ARG' && !seenFrom) {
      for (const decl of rest) {
        const eq = decl.indexOf('=')
        if (eq > 0) args.set(decl.slice(0, eq), unquote(decl.slice(eq + 1)))
      }
      continue
    }
    if (keyword !== 'FROM') continue
    seenFrom = true
    const words = rest.filter(word => !word.startsWith('--'))
    const ref = substitute(words[0] ?? '', args)
    if (ref === '') throw RuntimeDockerErrors.buildFailed(`a FROM line names no image: ${JSON.stringify(line)}`, { details: { field: 'dockerfile' } })
    if (ref.includes('$')) throw RuntimeDockerErrors.buildFailed(`FROM ${words[0] ?? ''}: a build argument without a default cannot be checked against the local images (builds never pull)`, { details: { field: 'dockerfile' } })
    const builtHere = stages.has(ref.toLowerCase())
    if (words[1]?.toUpperCase() === 'AS' && words[2] !== undefined) stages.add(words[2].toLowerCase())
    if (builtHere || ref.toLowerCase() === 'scratch') continue
    if (!images.includes(ref)) images.push(ref)
  }
  return images
}

/** Refuses the build when a base image is not in the engine; `exists` asks the engine. */
export async function checkBaseImages (dockerfilePath: string, exists: (ref: string) => Promise<boolean>): Promise<void> {
  const text = (await readFile(dockerfilePath)).subarray(0, MAX_DOCKERFILE_BYTES).toString('utf8')
  for (const ref of baseImagesOf(text)) {
    if (!await exists(ref)) {
      throw RuntimeDockerErrors.buildFailed(`FROM ${ref}: the image is not in the container engine, and job builds never pull (load or build it there first)`, { details: { field: 'dockerfile', image: ref } })
    }
  }
}

/** Lines with continuations joined, comments and parser directives dropped. */
function logicalLines (text: string): string[] {
  const out: string[] = []
  let current = ''
  for (const raw of text.split(/\r?\n/)) {
    const trimmed = raw.trim()
    if (current === '' && trimmed.startsWith('#')) continue
    if (trimmed.endsWith('\\')) { current += trimmed.slice(0, -1) + ' '; continue }
    current += trimmed
    if (current.trim() !== '') out.push(current.trim())
    current = ''
  }
  if (current.trim() !== '') out.push(current.trim())
  return out
}

function substitute (word: string, args: Map<string, string>): string {
  return word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, braced?: string, bare?: string) => args.get((braced ?? bare) as string) ?? whole)
}

function unquote (value: string): string {
  return /^(["']).*\1$/.test(value) ? value.slice(1, -1) : value
}
