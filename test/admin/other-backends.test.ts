// The admin contract does not change with the backend: every route of the RPC table
// over HTTPS with mutual TLS, on the Redis and the BullMQ backends (real Redis, a key
// prefix of their own, deleted after).
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { createBullMQBackend, type BullMQBackend } from '@switchyard/backend-bullmq'
import { openTestBackend } from '../../plugins/backend-redis/testing.ts'
import { ADMIN_IDENTITY, adminService, gatewayFor, makeCerts, runRouteSuite } from './support.ts'

t.test('every route of the RPC table answers over HTTPS on the Redis backend', async t => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const { service } = adminService(t, backend)
  const certs = await makeCerts(t)
  const { address } = await gatewayFor(t, service, certs)
  await runRouteSuite(t, address, { service, backend, identity: certs.admin, expectedActor: ADMIN_IDENTITY })
})

t.test('every route of the RPC table answers over HTTPS on the BullMQ backend', async t => {
  const backend: BullMQBackend = createBullMQBackend({ prefix: `syadmin${randomBytes(5).toString('hex')}` })
  await backend.init()
  t.teardown(async () => { await backend.destroyAllData(); await backend.close() })
  const { service } = adminService(t, backend)
  const certs = await makeCerts(t)
  const { address } = await gatewayFor(t, service, certs)
  await runRouteSuite(t, address, { service, backend, identity: certs.admin, expectedActor: ADMIN_IDENTITY })
})
