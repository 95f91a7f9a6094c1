// Config paths, values and problems as messages print them. Kept apart from the
// schema checks (problems.ts) so reading a file and the environment overrides load
// without the schema library.

export type PathSegment = string | number

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/

/** Renders path segments as `a.b[0]["odd key"]`, prefixed by `prefix` when given. */
export function formatPath (segments: readonly PathSegment[], prefix = ''): string {
  let out = prefix
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`
    else if (IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`
    else out += `[${JSON.stringify(segment)}]`
  }
  return out === '' ? '(root)' : out
}

export interface Problem {
  /** e.g. worker.leaseTimeout, plugins[1].options.url */
  path: string
  reason: string
}

export function formatProblem (problem: Problem): string {
  return `${problem.path}: ${problem.reason}`
}

/** A short description of a value for "got ..." in messages. */
export function describeValue (value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'nothing'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`
  return typeof value
}
