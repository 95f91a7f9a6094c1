// Artifact keys become paths under the store's directory, so they are checked as
// strictly as a path from outside must be: relative, no . or .. segment, no hidden
// segment (the store's temporary files start with a dot), a short alphabet, bounded.
import { ArtifactStoreErrors } from './errors.ts'

export const MAX_KEY_LENGTH = 512
export const MAX_SEGMENT_LENGTH = 200
const KEY_CHARS = /^[A-Za-z0-9._/-]+$/
const CONTENT_TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(?:\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(?:[A-Za-z0-9!#$&^_.+-]+|"[^"\\\x00-\x1f]*"))*$/
export const MAX_CONTENT_TYPE_LENGTH = 200

export function checkKey (key: string): void {
  const refuse = (why: string): never => { throw ArtifactStoreErrors.invalid(`artifact key "${String(key).slice(0, 100)}" ${why}`, { details: { field: 'key' } }) }
  if (typeof key !== 'string' || key.length === 0) refuse('is empty')
  if (key.length > MAX_KEY_LENGTH) refuse(`is longer than ${MAX_KEY_LENGTH} characters`)
  if (!KEY_CHARS.test(key)) refuse('may only hold letters, digits and . _ / -')
  for (const segment of key.split('/')) {
    if (segment === '') refuse('has an empty segment (a leading, trailing or double /)')
    if (segment.startsWith('.')) refuse('has a segment starting with "." (no ., .. or hidden names)')
    if (segment.length > MAX_SEGMENT_LENGTH) refuse(`has a segment longer than ${MAX_SEGMENT_LENGTH} characters`)
  }
}

export function checkContentType (contentType: string): void {
  if (typeof contentType !== 'string' || contentType.length > MAX_CONTENT_TYPE_LENGTH || !CONTENT_TYPE.test(contentType)) {
    throw ArtifactStoreErrors.invalid(`artifact content type "${String(contentType).slice(0, 100)}" is not a media type like text/plain`, { details: { field: 'contentType' } })
  }
}
