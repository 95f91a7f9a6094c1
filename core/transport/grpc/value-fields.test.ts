import t from 'tap'
import * as protoLoader from '@grpc/proto-loader'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { ADMIN_PROTO_PATH, parseProto } from '../../contract/drift.ts'
import { RPC_LIST } from '../../contract/rpcs.ts'
import { jsonValueFieldNames } from '../../contract/json-fields.ts'
import { adminRpcCodec, PROTO_LOADER_OPTIONS } from './proto.ts'
import { ValueFieldCodec } from './value-fields.ts'

// Where the Value fields are is read from the proto: every shape a field can take
// (single, repeated, map, inside nested messages) is converted both ways, and the
// admin contract's own Value fields are the JsonValue fields of its TypeBox requests.

const SHAPES = `
syntax = "proto3";
package shapes;
import "google/protobuf/struct.proto";
message Inner { string label = 1; google.protobuf.Value value = 2; }
message Outer {
  string name = 1;
  google.protobuf.Value single = 2;
  optional google.protobuf.Value maybe = 3;
  repeated google.protobuf.Value list = 4;
  map<string, google.protobuf.Value> by_key = 5;
  Inner inner = 6;
  repeated Inner inners = 7;
  map<string, Inner> inner_by_key = 8;
  repeated string untouched = 9;
  Outer again = 10;
}
`

t.test('every shape of Value field is found and converted, through real protobuf bytes', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-shapes-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'shapes.proto')
  await writeFile(path, SHAPES)
  const codec = new ValueFieldCodec(parseProto(SHAPES))
  t.same(codec.valueFieldPaths('shapes.Outer'), ['single', 'maybe', 'list[]', 'byKey{}', 'inner.value', 'inners[].value', 'innerByKey{}.value', 'again.*'],
    'found from the proto, a message inside itself included')

  const type = protoLoader.loadSync(path, PROTO_LOADER_OPTIONS)['shapes.Outer'] as protoLoader.MessageTypeDefinition<unknown, unknown>
  const message = {
    name: 'n',
    single: { to: 'a@b' },
    list: [1, 'two', null, [3]],
    byKey: { a: { deep: [true] }, '__proto__': 'own key' },
    inner: { label: 'i', value: 'text' },
    inners: [{ label: 'x', value: { n: 1 } }, { label: 'y', value: null }],
    innerByKey: { k: { label: 'z', value: [] } },
    untouched: ['s'],
    again: { name: 'nested', single: 42 }
  }
  const wire = codec.toWire('shapes.Outer', message)
  const decoded = codec.fromWire('shapes.Outer', type.deserialize(type.serialize(wire))) as Record<string, unknown>
  t.match(decoded, message, 'every value comes back')
  t.equal(decoded.maybe, undefined, 'an absent optional Value stays absent')
  t.same((decoded.again as Record<string, unknown>).single, 42, 'values inside a nested message of the same type are converted too')
  t.same(message.single, { to: 'a@b' }, 'the input is not changed')
  t.equal((wire as Record<string, unknown>).untouched, message.untouched, 'fields that lead to no Value are shared, not copied')

  t.throws(() => codec.fromWire('shapes.Outer', { inners: [{ label: 'x', value: { numberValue: NaN } }] }),
    { code: 'VALIDATION_FAILED', message: /^inners\[0\]\.value: must be a finite number/, details: { field: 'inners[0].value' } }, 'errors name the path from the message')
  t.throws(() => codec.toWire('shapes.Outer', { byKey: { 'a b': { n: Infinity } } }),
    { code: 'VALIDATION_FAILED', message: /^byKey\["a b"\]\.n: must be a finite number/ }, 'map keys are named in the path')
})

t.test('the admin contract: each Value field is a JsonValue field of the TypeBox request, and responses carry them where expected', async t => {
  const codec = new ValueFieldCodec(parseProto(readFileSync(ADMIN_PROTO_PATH, 'utf8')))
  for (const def of RPC_LIST) {
    t.same(codec.valueFieldPaths(`worker.v1.${def.requestType}`), jsonValueFieldNames(def.request), `${def.name} request`)
  }
  t.same(codec.valueFieldPaths('worker.v1.GetTaskResponse'), ['task.payload', 'task.result', 'task.progress'])
  t.same(codec.valueFieldPaths('worker.v1.GetDLQEntryResponse'), ['entry.payload', 'entry.result', 'entry.progress'])
  t.same(codec.valueFieldPaths('worker.v1.ListTasksResponse'), ['tasks[].progress'])
  t.same(codec.valueFieldPaths('worker.v1.ListAuditEventsResponse'), ['events[].params'])
  t.same(codec.valueFieldPaths('worker.v1.AdminEvent'), ['data'])
  t.same(codec.valueFieldPaths('worker.v1.EnqueueTaskRequest'), ['payload'])
  t.same(codec.valueFieldPaths('worker.v1.ReplayDLQByIDRequest'), ['payload', 'payloads'])
})

t.test('adminRpcCodec converts the RPC\'s own request and response types', async t => {
  const enqueue = adminRpcCodec('EnqueueTask')
  t.same(enqueue.requestToWire({ handler: 'h', payload: { a: 1 } }), { handler: 'h', payload: { structValue: { fields: { a: { numberValue: 1 } } } } })
  t.same(enqueue.requestFromWire({ handler: 'h', payload: { listValue: { values: [{ boolValue: true }] } } }), { handler: 'h', payload: [true] })
  t.same(enqueue.requestFromWire({ handler: 'h', payload: { numberValue: NaN } }), { handler: 'h', payload: NaN }, 'requests decode leniently: the service\'s validation refuses NaN, naming the field, and audits it')
  t.throws(() => adminRpcCodec('GetTask').responseFromWire({ task: { payload: { numberValue: NaN } }, timeline: [] }), { code: 'VALIDATION_FAILED', message: /^task\.payload: must be a finite number/ }, 'responses decode strictly')
  const events = adminRpcCodec('StreamEvents')
  t.same(events.responseToWire({ id: '1', type: 't', time: 'x', data: null }), { id: '1', type: 't', time: 'x', data: { nullValue: 'NULL_VALUE' } }, 'the stream item type (AdminEvent)')
  t.throws(() => adminRpcCodec('NoSuchRpc'), /has no method NoSuchRpc/)
})
