import t from 'tap'
import * as protoLoader from '@grpc/proto-loader'
import type * as grpc from '@grpc/grpc-js'
import { ADMIN_PROTO_PATH, ADMIN_SERVICE_NAME } from '../../contract/drift.ts'
import { RPC_LIST } from '../../contract/rpcs.ts'
import { adminRpcCodec, adminServiceDefinition, PROTO_LOADER_OPTIONS } from './proto.ts'

// The service definition is built from protobufjs reflection instead of through
// @grpc/proto-loader (whose descriptor protos for reflection were most of the gRPC
// server's start). It must be the definition proto-loader builds, method by method:
// the same paths, streaming, names, and the same bytes and objects on the wire.

const reference = protoLoader.loadSync(ADMIN_PROTO_PATH, PROTO_LOADER_OPTIONS)[ADMIN_SERVICE_NAME] as protoLoader.ServiceDefinition
const ours = adminServiceDefinition()

/** request and response messages as the codecs hand them to the serializers, with a value of every kind */
const SAMPLES: Record<string, { request: unknown, response: unknown }> = {
  EnqueueTask: {
    request: { handler: 'mail.send', queue: 'default', payload: { to: 'a@b', n: 3, nested: [1, 'two', null, { ok: true }] }, maxAttempts: 4, timeoutMs: 90_000, delayMs: 5, idempotencyKey: 'k-1', dependsOn: { ids: ['p1', 'p2'], onParentFailure: 'cancel' } },
    response: { id: 't-1', created: true, queue: 'default' }
  },
  ListQueues: {
    request: {},
    response: { queues: [{ name: 'default', ready: 12, processing: 2, scheduled: 0, dead: 1, weight: 3, paused: false, weightOverridden: true }] }
  },
  GetHealth: { request: {}, response: { status: 'ok', version: '0.1.0', commit: 'abc', nodeVersion: 'v20.20.2', backend: 'pglite', uptimeSeconds: 12.5, startedAt: '2026-12-06T16:00:00.000Z' } }
}

t.test('every method of the service, as proto-loader defines it', async t => {
  t.same(Object.keys(ours).sort(), Object.keys(reference).sort())
  t.same(Object.keys(ours).sort(), RPC_LIST.map(def => def.name).sort())
  for (const name of Object.keys(reference)) {
    const theirs = reference[name] as protoLoader.MethodDefinition<unknown, unknown>
    const mine = ours[name] as grpc.MethodDefinition<unknown, unknown>
    t.equal(mine.path, theirs.path, `${name} path`)
    t.equal(mine.requestStream, theirs.requestStream, `${name} request streaming`)
    t.equal(mine.responseStream, theirs.responseStream, `${name} response streaming`)
    t.equal(mine.originalName, theirs.originalName, `${name} original name`)
    // an empty message encodes to nothing and decodes to its defaults
    t.same(mine.requestDeserialize(theirs.requestSerialize({})), theirs.requestDeserialize(Buffer.alloc(0)), `${name} empty request`)
    t.same(mine.responseDeserialize(Buffer.alloc(0)), theirs.responseDeserialize(Buffer.alloc(0)), `${name} empty response`)
  }
})

t.test('the same bytes and objects for real messages, JSON values included', async t => {
  for (const [name, sample] of Object.entries(SAMPLES)) {
    const theirs = reference[name] as protoLoader.MethodDefinition<unknown, unknown>
    const mine = ours[name] as grpc.MethodDefinition<unknown, unknown>
    const codec = adminRpcCodec(name)
    const request = codec.requestToWire(sample.request)
    const response = codec.responseToWire(sample.response)
    const requestBytes = mine.requestSerialize(request)
    const responseBytes = mine.responseSerialize(response)
    t.ok(Buffer.isBuffer(requestBytes), `${name}: a Buffer`)
    t.same(requestBytes, theirs.requestSerialize(request), `${name} request bytes`)
    t.same(responseBytes, theirs.responseSerialize(response), `${name} response bytes`)
    t.same(mine.requestDeserialize(requestBytes), theirs.requestDeserialize(requestBytes), `${name} request decoded`)
    t.same(mine.responseDeserialize(responseBytes), theirs.responseDeserialize(responseBytes), `${name} response decoded`)
    t.same(codec.requestFromWire(mine.requestDeserialize(requestBytes)), sample.request, `${name} request round trip`)
  }
})

t.test('an array is refused as a message, as proto-loader refuses it', async t => {
  const mine = ours.GetHealth as grpc.MethodDefinition<unknown, unknown>
  t.throws(() => mine.requestSerialize([]), /expected object with GetHealthRequest structure, got array instead/)
})
