import t from 'tap'
import { Type } from 'typebox'
import { MAX_JSON_DEPTH } from '../backend/storable.ts'
import { checkJsonValueFields, jsonByteLength, jsonValueFieldNames } from './json-fields.ts'
import { JsonValue, PAYLOAD_MAX_BYTES } from './messages.ts'
import { RPCS } from './rpcs.ts'
import { validateRequest } from './validate.ts'

// JsonValue fields of requests: TypeBox takes any value there; these checks make it
// one every backend stores as it came, within its byte bound, naming the field.

function deep (levels: number): unknown {
  let value: unknown = 1
  for (let i = 0; i < levels; i++) value = [value]
  return value
}

t.test('the byte bound is measured on the value serialized as JSON', async t => {
  const overhead = jsonByteLength({ s: '' }) as number
  const fits = { s: 'x'.repeat(PAYLOAD_MAX_BYTES - overhead) }
  t.equal(jsonByteLength(fits), PAYLOAD_MAX_BYTES)
  t.doesNotThrow(() => validateRequest(RPCS.EnqueueTask, { handler: 'h', payload: fits }), 'exactly the bound is accepted')
  const over = { s: 'x'.repeat(PAYLOAD_MAX_BYTES - overhead + 1) }
  t.throws(() => validateRequest(RPCS.EnqueueTask, { handler: 'h', payload: over }),
    { code: 'VALIDATION_FAILED', message: `payload: ${PAYLOAD_MAX_BYTES + 1} bytes as JSON, more than the ${PAYLOAD_MAX_BYTES} allowed`, details: { field: 'payload', bytes: PAYLOAD_MAX_BYTES + 1, maxBytes: PAYLOAD_MAX_BYTES } })
  // 'é' is 2 bytes in UTF-8: counted as bytes, not characters
  const wide = { s: 'é'.repeat(Math.ceil(PAYLOAD_MAX_BYTES / 2)) }
  t.throws(() => validateRequest(RPCS.ReplayDLQByID, { ids: ['a'], payload: wide }), { message: /^payload: \d+ bytes as JSON, more than/ }, 'bytes, not characters, on replay too')
})

t.test('what a backend cannot store is refused, naming the path inside the field', async t => {
  const cases: Array<[string, unknown, RegExp, string]> = [
    ['a NUL in a string', { text: 'a\u0000b' }, /^payload\.text: contains a NUL character/, 'payload.text'],
    ['Infinity (what JSON.parse makes of 1e999)', JSON.parse('{"n":1e999}'), /^payload\.n: must be a finite number/, 'payload.n'],
    ['an unpaired surrogate', ['ok', '\uD800'], /^payload\[1\]: contains an unpaired UTF-16 surrogate/, 'payload[1]'],
    [`nesting past ${MAX_JSON_DEPTH} levels`, deep(MAX_JSON_DEPTH + 1), new RegExp(`^payload: nested deeper than ${MAX_JSON_DEPTH} levels`), 'payload']
  ]
  for (const [name, payload, message, field] of cases) {
    t.throws(() => validateRequest(RPCS.EnqueueTask, { handler: 'h', payload }), { code: 'VALIDATION_FAILED', message, details: { field } }, `enqueue: ${name}`)
    t.throws(() => validateRequest(RPCS.ReplayDLQByID, { ids: ['a'], payload }), { code: 'VALIDATION_FAILED', message, details: { field } }, `replay: ${name}`)
  }
  t.throws(() => validateRequest(RPCS.EnqueueTask, { handler: 'h', payload: () => 1 }), { message: 'payload: must be a JSON value' }, 'a function is no JSON value')
  t.doesNotThrow(() => validateRequest(RPCS.EnqueueTask, { handler: 'h', payload: deep(MAX_JSON_DEPTH) }), `${MAX_JSON_DEPTH} levels are fine`)
  for (const payload of [null, 0, 'text', false, [], {}]) t.doesNotThrow(() => validateRequest(RPCS.EnqueueTask, { handler: 'h', payload }), `${JSON.stringify(payload)} is a payload`)
  t.doesNotThrow(() => validateRequest(RPCS.EnqueueTask, { handler: 'h' }), 'an absent payload is fine')
})

t.test('fields are found from the schema, nested in objects and arrays too', async t => {
  const schema = Type.Object({
    top: JsonValue('any', { maxBytes: 10 }),
    plain: Type.String(),
    items: Type.Array(Type.Object({ label: Type.String(), value: JsonValue('any', { maxBytes: 5 }) })),
    inner: Type.Object({ value: JsonValue('unbounded') })
  })
  t.same(jsonValueFieldNames(schema), ['top'], 'top-level JsonValue fields')
  t.doesNotThrow(() => checkJsonValueFields(schema, { top: 1, plain: 'x', items: [{ label: 'a', value: 'abc' }], inner: { value: 'x'.repeat(1000) } }))
  t.throws(() => checkJsonValueFields(schema, { top: 1, items: [{ label: 'a', value: 1 }, { label: 'b', value: '123456' }] }), { message: /^items\[1\]\.value: 8 bytes as JSON, more than the 5 allowed$/ })
  t.throws(() => checkJsonValueFields(schema, { inner: { value: { n: NaN } } }), { message: /^inner\.value\.n: must be a finite number/ })
  t.same(jsonValueFieldNames(RPCS.GetHealth.request), [], 'requests without one')
})
