// What a git job may ask for, checked before git runs: a repository URL over https
// or ssh in its canonical spelling, on the allowlist, and a tag name git itself
// would accept as refs/tags/<tag>. Every refusal names the value and the rule.
import { GitSourceErrors } from './errors.ts'

export const MAX_REPO_LENGTH = 512
export const MAX_TAG_LENGTH = 200

/** user@host:path, the scp-like ssh spelling */
const SCP_LIKE = /^([A-Za-z0-9._-]+)@([A-Za-z0-9.-]+):([A-Za-z0-9._~/-]+)$/
const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i
// check-ref-format: no control characters, space, ~ ^ : ? * [ \ anywhere.
const REF_FORBIDDEN = /[\x00-\x20\x7f~^:?*[\\]/
// Characters a repository path may hold; anything else (quotes, spaces, %, backslash) is refused.
const PATH_CHARS = /^[A-Za-z0-9._~/+-]*$/

function refuse (message: string, field: string, value: string): never {
  throw GitSourceErrors.refused(message, { details: { field, value } })
}

function hasDotSegment (path: string): boolean {
  return path.split('/').some(segment => segment === '.' || segment === '..')
}

/** Refuses anything but an https:// or ssh:// URL (or user@host:path) in canonical form. */
export function checkRepoUrl (repo: string): void {
  if (typeof repo !== 'string' || repo.length === 0) refuse('a git job needs a repository URL (repo)', 'repo', String(repo))
  if (repo.length > MAX_REPO_LENGTH) refuse(`repository URL is longer than ${MAX_REPO_LENGTH} characters`, 'repo', repo.slice(0, 64))
  if (repo.startsWith('-')) refuse(`repository "${repo}" starts with "-" (it would be read as an option)`, 'repo', repo)
  if (/[\x00-\x20\x7f\\]/.test(repo)) refuse(`repository "${repo}" contains whitespace, a control character or a backslash`, 'repo', repo)
  const scp = SCP_LIKE.exec(repo)
  if (scp !== null) {
    const [, , host = '', path = ''] = scp
    if (host.startsWith('-') || host.startsWith('.')) refuse(`repository "${repo}": host "${host}" is not a host name`, 'repo', repo)
    if (path.startsWith('-') || hasDotSegment(path)) refuse(`repository "${repo}": path "${path}" starts with "-" or has a . or .. segment`, 'repo', repo)
    return
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(repo)?.[1]?.toLowerCase()
  if (scheme !== 'https' && scheme !== 'ssh') {
    refuse(`repository "${repo}" is not an https:// or ssh:// URL (or user@host:path); file://, ext::, http:// and local paths are refused`, 'repo', repo)
  }
  let url: URL
  try { url = new URL(repo) } catch { return refuse(`repository "${repo}" is not a valid URL`, 'repo', repo) }
  if (url.href !== repo) refuse(`repository "${repo}" is not in canonical form (write it as ${url.href})`, 'repo', repo)
  if (url.password !== '' || (scheme === 'https' && url.username !== '')) refuse(`repository "${repo}" carries credentials; give them to git outside the job definition`, 'repo', repo)
  if (url.search !== '' || url.hash !== '') refuse(`repository "${repo}" has a query or a fragment`, 'repo', repo)
  if (url.hostname === '' || url.hostname.startsWith('-')) refuse(`repository "${repo}" has no usable host`, 'repo', repo)
  if (!PATH_CHARS.test(url.pathname) || hasDotSegment(url.pathname) || url.pathname.length < 2) {
    refuse(`repository "${repo}": the path must be letters, digits and . _ ~ / + - with no . or .. segment`, 'repo', repo)
  }
}

/**
 * True when `repo` is allowed: "*" allows every repository, an entry ending in "/"
 * (or ":" for user@host:) allows every repository under it, any other entry allows
 * exactly that URL. Prefixes must end at a separator so "https://host/acme/" never
 * allows "https://host/acme-evil/x".
 */
export function repoAllowed (repo: string, allowlist: readonly string[]): boolean {
  return allowlist.some(entry => entry === '*' || entry === repo || ((entry.endsWith('/') || entry.endsWith(':')) && repo.startsWith(entry)))
}

/** Refuses a tag name that git would not accept as refs/tags/<tag>, and a commit SHA. */
export function checkTagName (tag: string): void {
  if (typeof tag !== 'string' || tag.length === 0) refuse('a git job needs a tag', 'tag', String(tag))
  if (tag.length > MAX_TAG_LENGTH) refuse(`tag is longer than ${MAX_TAG_LENGTH} characters`, 'tag', tag.slice(0, 64))
  if (tag.startsWith('-')) refuse(`tag "${tag}" starts with "-" (it would be read as an option)`, 'tag', tag)
  if (FULL_SHA.test(tag)) refuse(`"${tag}" is a commit SHA; git jobs fetch tags only (refs/tags/<tag>)`, 'tag', tag)
  if (tag.startsWith('refs/')) refuse(`tag "${tag}" is a full ref name; give the tag's name alone (it is fetched as refs/tags/<tag>)`, 'tag', tag)
  const invalid = REF_FORBIDDEN.test(tag) || tag.includes('..') || tag.includes('@{') || tag === '@' ||
    tag.startsWith('/') || tag.endsWith('/') || tag.endsWith('.') || tag.includes('//') ||
    tag.split('/').some(part => part.startsWith('.') || part.endsWith('.lock'))
  if (invalid) refuse(`tag "${tag}" is not a valid tag name (git check-ref-format rules)`, 'tag', tag)
}
