// A payload is encoded once per enqueue: normalizeNewTask keeps the text it encoded
// (to bound the size), and backends store that text through payloadJson. The text
// must be exactly what JSON.stringify gives, and a task that did not come from
// normalizeNewTask (a copy, a third-party caller's) is encoded as before.
import t from 'tap'
import { DEFAULT_TASK_DEFAULTS, normalizeNewTask } from '../tasks/enqueue.ts'
import { isNormalized, payloadJson } from './payload-json.ts'

/** a payload that counts how often it is encoded (JSON.stringify and the storable walk both call toJSON) */
function countingPayload (): { payload: unknown, encodings: () => number } {
  let calls = 0
  const payload = { toJSON: () => { calls++; return { user: 'ü', items: [1, 2.5, null, 'x'] } } }
  return { payload, encodings: () => calls }
}

t.test('a normalized task hands over the text normalizeNewTask encoded, not a second encoding', async t => {
  const { payload, encodings } = countingPayload()
  const task = normalizeNewTask({ handler: 'h', payload }, DEFAULT_TASK_DEFAULTS)
  const afterNormalize = encodings()
  const json = payloadJson(task)
  t.equal(json, JSON.stringify(payload))
  t.equal(encodings(), afterNormalize + 1, 'only the check above encoded it again')
  t.ok(isNormalized(task))
})

t.test('the same text JSON.stringify gives, for every kind of payload', async t => {
  const payloads: unknown[] = [{ i: 1 }, null, 0, 'text', [1, 'a', { b: true }], { nested: { deep: ['é', '😀', '\\u0000 literal'] } }, { at: new Date(0) }]
  for (const payload of payloads) {
    t.equal(payloadJson(normalizeNewTask({ handler: 'h', payload }, DEFAULT_TASK_DEFAULTS)), JSON.stringify(payload), JSON.stringify(payload))
  }
  t.equal(payloadJson(normalizeNewTask({ handler: 'h' }, DEFAULT_TASK_DEFAULTS)), '{}', 'no payload: {}')
})

t.test('a task not built by normalizeNewTask, or whose payload was replaced, is encoded anew', async t => {
  const task = normalizeNewTask({ handler: 'h', payload: { a: 1 } }, DEFAULT_TASK_DEFAULTS)
  const copy = { ...task, payload: { a: 2 } }
  t.notOk(isNormalized(copy))
  t.equal(payloadJson(copy), '{"a":2}')
  task.payload = { b: 3 }
  t.equal(payloadJson(task), '{"b":3}', 'the replaced payload, not the normalized text')
  t.equal(payloadJson({ ...task, payload: undefined }), 'null', 'an absent payload is null, as the backends stored it before')
})

t.test('the size bound still counts UTF-8 bytes, not characters', async t => {
  const limit = 1024 * 1024
  // 3 bytes per character: about 350,000 characters are over 1 MiB
  t.throws(() => normalizeNewTask({ handler: 'h', payload: '€'.repeat(Math.ceil(limit / 3)) }, DEFAULT_TASK_DEFAULTS),
    { code: 'VALIDATION_FAILED', details: { field: 'task.payload' } })
  // "x…x" is 2 bytes of quotes plus one byte each
  t.doesNotThrow(() => normalizeNewTask({ handler: 'h', payload: 'x'.repeat(limit - 2) }, DEFAULT_TASK_DEFAULTS))
  t.throws(() => normalizeNewTask({ handler: 'h', payload: 'x'.repeat(limit - 1) }, DEFAULT_TASK_DEFAULTS), { code: 'VALIDATION_FAILED' })
  t.doesNotThrow(() => normalizeNewTask({ handler: 'h', payload: '€'.repeat(Math.floor((limit - 2) / 3)) }, DEFAULT_TASK_DEFAULTS))
})
