// Builds never pull and never reach the network: the Dockerfile is read before the
// build starts and refused when it asks for either.
// - A FROM image (or a COPY --from / RUN --mount from= image) the engine does not have
//   would make Docker fetch it from a registry even with pull=false (that flag only
//   forces re-pulls); each is looked up first, and a missing one refuses the build.
// - ADD with a URL (or a git remote) is fetched by the builder itself, in the engine's
//   own network namespace: the build's `networkmode` does not apply to it (podman 4.3
//   fetched `ADD http://127.0.0.1:<port>/...` from the host's loopback with the network
//   off). So ADD may name files of the context only.
// - RUN --network and RUN --security (BuildKit and buildah flags) would give a step
//   back what the build's network mode took away; only --network=none and
//   --security=sandbox are accepted.
import { readFile } from 'node:fs/promises'
import { RuntimeDockerErrors } from './errors.ts'

/** Dockerfiles larger than this are not parsed (the engine would refuse them too). */
const MAX_DOCKERFILE_BYTES = 1024 * 1024

/** a source ADD would download: any URL scheme, or git's scp-like remote */
const REMOTE_SOURCE = /^(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/|git@)/

function refuseLine (line: string, why: string, field = 'dockerfile'): never {
  throw RuntimeDockerErrors.buildFailed(`${JSON.stringify(line.length > 200 ? `${line.slice(0, 200)}...` : line)}: ${why}`, { details: { field } })
}

/** The leading --flag words of an instruction's arguments, and the words after them. */
function splitFlags (words: string[]): { flags: Map<string, string>, args: string[] } {
  const flags = new Map<string, string>()
  let index = 0
  for (; index < words.length; index++) {
    const word = words[index] as string
    if (!word.startsWith('--')) break
    const eq = word.indexOf('=')
    flags.set((eq === -1 ? word.slice(2) : word.slice(2, eq)).toLowerCase(), eq === -1 ? '' : unquote(word.slice(eq + 1)))
  }
  return { flags, args: words.slice(index) }
}

/** ADD's sources: every argument but the last, in the shell form or the JSON form. */
function addSources (args: string[]): string[] {
  const joined = args.join(' ')
  if (joined.startsWith('[')) {
    try {
      const parsed = JSON.parse(joined) as unknown
      if (Array.isArray(parsed)) return parsed.slice(0, -1).map(String)
    } catch { /* not JSON: the shell form */ }
  }
  return args.slice(0, -1).map(unquote)
}

/**
 * The external images a Dockerfile needs, in order, without stages it builds itself
 * or `scratch`: FROM lines, COPY/ADD --from=<image> and RUN --mount=...,from=<image>.
 * Throws IMAGE_BUILD_FAILED naming the line when the Dockerfile asks for the network
 * (ADD of a URL or a git remote, RUN --network other than none, RUN --security other
 * than sandbox), also inside ONBUILD.
 */
export function baseImagesOf (dockerfile: string): string[] {
  const lines = logicalLines(dockerfile)
  const args = new Map<string, string>()
  const stages = new Set<string>()
  let stageCount = 0
  const images: string[] = []
  let seenFrom = false
  const need = (line: string, ref: string, what: string): void => {
    if (ref === '') refuseLine(line, `${what} names no image or stage`)
    if (ref.includes('$')) refuseLine(line, `${what}: a build argument cannot be checked against the local images (builds never pull)`)
    const lower = ref.toLowerCase()
    if (stages.has(lower) || lower === 'scratch' || (/^[0-9]+$/.test(ref) && Number(ref) < stageCount)) return
    if (!images.includes(ref)) images.push(ref)
  }
  for (const line of lines) {
    let [instruction, ...rest] = line.split(/\s+/)
    let keyword = (instruction ?? '').toUpperCase()
    // an ONBUILD trigger is held to the same rules as the instruction it names
    if (keyword === 'ONBUILD') {
      [instruction, ...rest] = rest
      keyword = (instruction ?? '').toUpperCase()
    }
    // ARGs before the first FROM are the ones FROM lines may use; their defaults apply (no build args are passed).
    if (keyword === 'ARG' && !seenFrom) {
      for (const decl of rest) {
        const eq = decl.indexOf('=')
        if (eq > 0) args.set(decl.slice(0, eq), unquote(decl.slice(eq + 1)))
      }
      continue
    }
    if (keyword === 'FROM') {
      seenFrom = true
      const words = rest.filter(word => !word.startsWith('--'))
      const ref = substitute(words[0] ?? '', args)
      if (ref === '') throw RuntimeDockerErrors.buildFailed(`a FROM line names no image: ${JSON.stringify(line)}`, { details: { field: 'dockerfile' } })
      if (ref.includes('$')) throw RuntimeDockerErrors.buildFailed(`FROM ${words[0] ?? ''}: a build argument without a default cannot be checked against the local images (builds never pull)`, { details: { field: 'dockerfile' } })
      need(line, ref, 'FROM')
      if (words[1]?.toUpperCase() === 'AS' && words[2] !== undefined) stages.add(words[2].toLowerCase())
      stageCount++
      continue
    }
    if (keyword === 'ADD' || keyword === 'COPY') {
      const { flags, args: operands } = splitFlags(rest)
      const from = flags.get('from')
      if (from !== undefined) need(line, from, `${keyword} --from`)
      if (keyword === 'ADD' && from === undefined) {
        const remote = addSources(operands).find(source => REMOTE_SOURCE.test(source))
        if (remote !== undefined) refuseLine(line, `ADD of ${remote}: a job's build has no network and reads its context only (fetch it into the source, or build it into the base image)`)
      }
      continue
    }
    if (keyword === 'RUN') {
      const { flags } = splitFlags(rest)
      const network = flags.get('network')
      if (network !== undefined && network !== 'none') refuseLine(line, `RUN --network=${network}: a job's build has no network`)
      const security = flags.get('security')
      if (security !== undefined && security !== 'sandbox') refuseLine(line, `RUN --security=${security}: a job's build steps run sandboxed`)
      for (const word of rest) {
        if (!word.startsWith('--')) break
        if (!word.toLowerCase().startsWith('--mount=')) continue
        for (const pair of word.slice('--mount='.length).split(',')) {
          const eq = pair.indexOf('=')
          if (eq > 0 && pair.slice(0, eq).toLowerCase() === 'from') need(line, unquote(pair.slice(eq + 1)), 'RUN --mount from')
        }
      }
    }
  }
  return images
}

/** Refuses the build when a base image is not in the engine; `exists` asks the engine. */
export async function checkBaseImages (dockerfilePath: string, exists: (ref: string) => Promise<boolean>): Promise<void> {
  const bytes = await readFile(dockerfilePath)
  // a cut Dockerfile would leave its end unchecked
  if (bytes.length > MAX_DOCKERFILE_BYTES) throw RuntimeDockerErrors.buildFailed(`the Dockerfile is larger than ${MAX_DOCKERFILE_BYTES} bytes`, { details: { field: 'dockerfile' } })
  for (const ref of baseImagesOf(bytes.toString('utf8'))) {
    if (!await exists(ref)) {
      throw RuntimeDockerErrors.buildFailed(`image ${ref}: it is not in the container engine, and job builds never pull (load or build it there first)`, { details: { field: 'dockerfile', image: ref } })
    }
  }
}

const KNOWN_DIRECTIVES = ['syntax', 'escape', 'check']
const DIRECTIVE = /^#\s*([A-Za-z][A-Za-z0-9]*)\s*=\s*(.*?)\s*$/

/**
 * Lines with continuations joined, comments and parser directives dropped. The
 * continuation character is the one the `# escape=` directive names (\\ or `), as
 * the engine reads it: joining lines the engine keeps apart would hide an instruction.
 */
function logicalLines (text: string): string[] {
  const raws = text.split(/\r?\n/)
  let escape = '\\'
  let first = 0
  for (; first < raws.length; first++) {
    const directive = DIRECTIVE.exec((raws[first] as string).trim())
    // an unknown directive is a comment, and the engine reads no directive after a comment
    const name = (directive?.[1] ?? '').toLowerCase()
    if (directive === null || !KNOWN_DIRECTIVES.includes(name)) break
    if (name === 'escape') {
      const value = directive[2] as string
      if (value !== '\\' && value !== '`') throw RuntimeDockerErrors.buildFailed(`the escape directive must be \\ or \`, got ${JSON.stringify(value)}`, { details: { field: 'dockerfile' } })
      escape = value
    }
  }
  const out: string[] = []
  let current = ''
  for (const raw of raws.slice(first)) {
    const trimmed = raw.trim()
    if (current === '' && trimmed.startsWith('#')) continue
    if (trimmed.endsWith(escape)) { current += trimmed.slice(0, -1) + ' '; continue }
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
