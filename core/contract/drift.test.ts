import t from 'tap'
import { readFileSync } from 'node:fs'
import { ADMIN_PROTO_PATH, findContractDrift, parseProto } from './drift.ts'
import { RPC_LIST, STREAM_RPC_NAMES } from './rpcs.ts'

const source = readFileSync(ADMIN_PROTO_PATH, 'utf8')

t.test('admin.proto and the RPC table describe the same contract', async t => {
  t.same(findContractDrift(parseProto(source), RPC_LIST), [])
})

t.test('the proto loads through proto-loader with the transport options', async t => {
  const loader = await import('@grpc/proto-loader')
  const definition = await loader.load(ADMIN_PROTO_PATH, { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: false })
  const service = definition['worker.v1.AdminService'] as Record<string, { responseStream: boolean }>
  t.same(Object.keys(service).sort(), RPC_LIST.map(def => def.name).sort())
  for (const def of RPC_LIST) t.equal(service[def.name]?.responseStream, def.stream === true, `${def.name} streaming`)
})

// The checker must actually catch drift, or a green run above proves nothing.
t.test('drift is reported', async t => {
  const cases: Array<[string, (proto: string) => string, RegExp]> = [
    ['rpc missing from proto', p => p.replace('  rpc GetHealth (GetHealthRequest) returns (GetHealthResponse);\n', ''), /rpc GetHealth: in the table but not in proto/],
    ['extra rpc in proto', p => p.replace('service AdminService {', 'service AdminService {\n  rpc Extra (GetHealthRequest) returns (GetHealthResponse);'), /rpc Extra: in proto but not in the table/],
    ['field missing from proto', p => p.replace('  bool weight_overridden = 11;\n', ''), /weightOverridden: in TypeBox but not in proto QueueSummary/],
    ['extra field in proto', p => p.replace('message GetQueueRequest {\n  string name = 1;', 'message GetQueueRequest {\n  string name = 1;\n  string verbose = 2;'), /GetQueue\.request\.verbose: in proto GetQueueRequest but not in TypeBox/],
    ['type differs', p => p.replace('  int32 weight = 2;', '  string weight = 2;'), /UpdateQueueWeight\.request\.weight: proto string \(string\) but TypeBox integer/],
    ['repeated vs scalar', p => p.replace('  repeated string ids = 1;', '  string ids = 1;'), /ReplayDLQByID\.request\.ids: proto string \(string\) but TypeBox array/],
    ['optional differs', p => p.replace('  optional int32 limit = 1;\n  optional int32 offset = 2;', '  int32 limit = 1;\n  optional int32 offset = 2;'), /ListDLQ\.request\.limit: required in proto but optional in TypeBox/],
    ['streaming differs', p => p.replace('returns (stream AdminEvent)', 'returns (AdminEvent)'), /rpc StreamEvents: response streaming is false in proto but true in the table/],
    ['nested message field differs', p => p.replace('  int32 pid = 3;', '  double pid = 3;'), /ListWorkers\.response\.workers\[\]\.pid: proto double \(number\) but TypeBox integer/],
    ['map value differs', p => p.replace('map<string, int64> by_queue = 2;', 'map<string, string> by_queue = 2;'), /GetDLQStats\.response\.byQueue\{\}: proto string/],
    ['a JSON value field is a string in proto', p => p.replace('google.protobuf.Value data = 5;', 'string data = 5;'), /StreamEvents\.response\.data: proto string \(string\) but TypeBox json value/],
    ['a JSON value field is a Struct in proto', p => p.replace('google.protobuf.Value payload = 22;', 'google.protobuf.Struct payload = 22;'), /GetTask\.response\.task\.payload: proto message Struct but TypeBox json value/],
    ['a Value in proto is no JSON value field in TypeBox', p => p.replace('message TaskView {\n  string id = 1;', 'message TaskView {\n  google.protobuf.Value id = 1;'), /GetTask\.response\.task\.id: proto google\.protobuf\.Value \(json value\) but TypeBox string/],
    ['a JSON value request field is required in proto', p => p.replace('optional google.protobuf.Value payload = 10;', 'google.protobuf.Value payload = 10;'), /EnqueueTask\.request\.payload: required in proto but optional in TypeBox/]
  ]
  for (const [name, mutate, expected] of cases) {
    const mutated = mutate(source)
    t.not(mutated, source, `${name}: the mutation applies`)
    const problems = findContractDrift(parseProto(mutated), RPC_LIST)
    t.ok(problems.some(problem => expected.test(problem)), `${name}: ${problems.join(' | ')}`)
  }
})

t.test('the stream RPCs known to the type system are the ones the table streams', async t => {
  t.same(RPC_LIST.filter(def => def.stream === true).map(def => def.name), [...STREAM_RPC_NAMES])
})
