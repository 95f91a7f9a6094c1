import t from 'tap'
import * as protoLoader from '@grpc/proto-loader'
import { ADMIN_PROTO_PATH } from '../../contract/drift.ts'
import { MAX_JSON_DEPTH } from '../../backend/storable.ts'
import { fromProtoValue, toProtoValue, type ProtoValue } from './json-value.ts'
import { PROTO_LOADER_OPTIONS } from './proto.ts'

// The mapping alone, through real protobuf bytes: google.protobuf.Value as
// proto-loader serializes and deserializes it with the transport's options.

const definition = protoLoader.loadSync(ADMIN_PROTO_PATH, PROTO_LOADER_OPTIONS)
const ValueType = definition['google.protobuf.Value'] as protoLoader.MessageTypeDefinition<ProtoValue, ProtoValue>

function overTheWire (value: ProtoValue): ProtoValue {
  return ValueType.deserialize(ValueType.serialize(value))
}

function roundTrip (value: unknown): unknown {
  return fromProtoValue(overTheWire(toProtoValue(value, 'payload')), 'payload')
}

function nested (levels: number): unknown {
  let value: unknown = 'bottom'
  for (let i = 0; i < levels; i++) value = [value]
  return value
}

function nestedValue (levels: number): ProtoValue {
  let value: ProtoValue = { stringValue: 'bottom' }
  for (let i = 0; i < levels; i++) value = { listValue: { values: [value] } }
  return value
}

t.test('JSON values come back as they went in', async t => {
  const cases: Array<[string, unknown]> = [
    ['null', null],
    ['true', true],
    ['false', false],
    ['zero', 0],
    ['a negative fraction', -12.5],
    ['the largest double', Number.MAX_VALUE],
    ['the smallest subnormal', Number.MIN_VALUE],
    ['an integer beyond 2^53 (a double, as in JSON)', 2 ** 60],
    ['the empty string', ''],
    ['unicode text', 'Grüße, 世界 🚂 עברית e\u0301'],
    ['a NUL character (carried; storing it is refused elsewhere)', 'a\u0000b'],
    ['the empty object', {}],
    ['the empty array', []],
    ['a flat object', { to: 'a@b', n: 1, ok: true, none: null }],
    ['nested objects and arrays', { user: { name: 'Ada', tags: ['x', 'y'], scores: [1, 2.5, -3], more: [{ deep: [[], {}] }] } }],
    ['an array of mixed values', [1, 'two', null, false, { three: 3 }, [4]]],
    ['keys JSON allows: empty, spaced, unicode, __proto__, constructor', JSON.parse('{"": 1, "a b": 2, "ключ": 3, "__proto__": 4, "constructor": 5}')],
    [`${MAX_JSON_DEPTH} levels of nesting`, nested(MAX_JSON_DEPTH)]
  ]
  for (const [name, value] of cases) t.same(roundTrip(value), value, name)
  const protoKey = roundTrip(JSON.parse('{"__proto__": {"polluted": true}}')) as Record<string, unknown>
  t.ok(Object.hasOwn(protoKey, '__proto__'), '"__proto__" stays an own key')
  t.equal(Object.getPrototypeOf(protoKey), Object.prototype, 'and never becomes the prototype')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'nothing is polluted')
})

t.test('the wire form is google.protobuf.Value', async t => {
  t.same(toProtoValue({ a: [1, 'x', null, true] }, 'payload'), {
    structValue: { fields: { a: { listValue: { values: [{ numberValue: 1 }, { stringValue: 'x' }, { nullValue: 'NULL_VALUE' }, { boolValue: true }] } } } }
  })
  t.same(overTheWire(toProtoValue({}, 'payload')), { structValue: { fields: {} } }, 'an empty object is an empty struct')
  t.same(overTheWire(toProtoValue([], 'payload')), { listValue: { values: [] } }, 'an empty array is an empty list')
})

t.test('as JSON.stringify does: toJSON is honoured, undefined properties are left out, undefined items are null', async t => {
  const at = new Date('2030-01-02T03:04:05.000Z')
  t.same(roundTrip({ at, skipped: undefined, list: [undefined, 1] }), { at: '2030-01-02T03:04:05.000Z', list: [null, 1] })
})

t.test('what is not a JSON value is refused, naming the path', async t => {
  const cycle: Record<string, unknown> = { name: 'loop' }
  cycle.self = cycle
  const refusals: Array<[string, unknown, RegExp, string]> = [
    ['NaN', { n: NaN }, /^payload\.n: must be a finite number \(JSON has no Infinity or NaN\), got NaN$/, 'payload.n'],
    ['Infinity in an array', { items: [1, 2, Infinity] }, /^payload\.items\[2\]: must be a finite number.*Infinity$/, 'payload.items[2]'],
    ['-Infinity', -Infinity, /^payload: must be a finite number.*-Infinity$/, 'payload'],
    ['a BigInt', { big: 1n }, /^payload\.big: must be a JSON number, not a BigInt$/, 'payload.big'],
    ['a function', () => 1, /^payload: must be a JSON value, not function$/, 'payload'],
    ['a symbol', Symbol('s'), /^payload: must be a JSON value, not symbol$/, 'payload'],
    ['undefined itself', undefined, /^payload: must be a JSON value, not undefined$/, 'payload'],
    ['a lone surrogate in a string', { text: 'a\uD800b' }, /^payload\.text: the string contains an unpaired UTF-16 surrogate/, 'payload.text'],
    ['a lone surrogate in a key', { ['k\uDC00']: 1 }, /^payload\["k\\udc00"\]: the key contains an unpaired UTF-16 surrogate/, 'payload["k\\udc00"]'],
    ['a key that is not an identifier', { 'a b': { c: NaN } }, /^payload\["a b"\]\.c: must be a finite number/, 'payload["a b"].c'],
    [`${MAX_JSON_DEPTH + 1} levels`, nested(MAX_JSON_DEPTH + 1), new RegExp(`^payload: nested deeper than ${MAX_JSON_DEPTH} levels$`), 'payload'],
    ['a cycle', cycle, new RegExp(`^payload: nested deeper than ${MAX_JSON_DEPTH} levels$`), 'payload']
  ]
  for (const [name, value, message, field] of refusals) {
    t.throws(() => toProtoValue(value, 'payload'), { code: 'VALIDATION_FAILED', message, details: { field } }, `encode refuses ${name}`)
  }
})

t.test('a Value that holds no JSON value is refused when decoded, naming the path', async t => {
  const refusals: Array<[string, ProtoValue, RegExp]> = [
    ['NaN', { structValue: { fields: { n: { numberValue: NaN } } } }, /^payload\.n: must be a finite number \(JSON has no Infinity or NaN\), got NaN$/],
    ['Infinity in a list', { listValue: { values: [{ numberValue: 1 }, { numberValue: Infinity }] } }, /^payload\[1\]: must be a finite number.*Infinity$/],
    ['-Infinity', { numberValue: -Infinity }, /^payload: must be a finite number.*-Infinity$/],
    ['no kind set', { structValue: { fields: { a: {} } } }, /^payload\.a: a google\.protobuf\.Value with no kind set/],
    ['two kinds set', { numberValue: 0, stringValue: 'both' }, /^payload: a google\.protobuf\.Value with several kinds set \(numberValue, stringValue\); set exactly one$/],
    [`${MAX_JSON_DEPTH + 1} levels`, nestedValue(MAX_JSON_DEPTH + 1), new RegExp(`^payload: nested deeper than ${MAX_JSON_DEPTH} levels$`)]
  ]
  for (const [name, value, message] of refusals) {
    // through real bytes: protobuf carries NaN, Infinity, an empty Value and two kinds
    t.throws(() => fromProtoValue(overTheWire(value), 'payload'), { code: 'VALIDATION_FAILED', message }, `decode refuses ${name}`)
  }
  t.same(fromProtoValue(overTheWire(nestedValue(MAX_JSON_DEPTH)), 'payload'), nested(MAX_JSON_DEPTH), `${MAX_JSON_DEPTH} levels decode`)
})
