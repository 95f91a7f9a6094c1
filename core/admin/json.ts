import { Errors } from '../errors.ts'

/** parses a `...Json` field of a request; a parse failure is a 400 naming the field */
export function parseJsonField (field: string, text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    throw Errors.validation(`${field}: must be valid JSON (${(err as Error).message})`, { details: { field } })
  }
}
