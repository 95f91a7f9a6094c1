// Annotations read by the error formatter and the resolver (JSON Schema ignores
// unknown keywords, so they survive into schema.json harmlessly). Plain constants,
// apart from the schema, so the resolver loads without the schema library.
export const UNIT_KEY = 'x-unit'
export const HINT_KEY = 'x-hint'
export const MIN_MS_KEY = 'x-min-ms'
