// Config paths as problems and messages print them. Kept apart from the schema
// checks so the environment overrides can use it without loading the validator.

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
