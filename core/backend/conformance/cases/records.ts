import { isSwitchyardError } from '../../../errors.ts'
import { RECORD_VALUE_MAX_BYTES } from '../../records.ts'
import {
  conformanceCaseNeeding, waitFor, within,
  type ConformanceArea
} from '../support.ts'

export const recordsArea: ConformanceArea = {
  name: 'records',
  run (t, ctx) {
    const { backend, peer } = ctx
    // collection names must be lower-case; ctx.name() adds a readable, unique suffix
    const collection = (label: string): string => ctx.name(label).toLowerCase().replace(/[^a-z0-9_.-]/g, '-')

    conformanceCaseNeeding(t, ctx, ['records'], 'put, get, overwrite: versions start at 1 and grow by one', async t => {
      const col = collection('basic')
      t.equal(await backend.getRecord(col, 'a'), null, 'a missing record is null')
      const before = await backend.now()
      const first = await backend.putRecord(col, 'a', { spec: '* * * * *', n: 1, nested: { list: [1, 'two', null] } })
      const after = await backend.now()
      t.ok(first.ok, 'written')
      if (!first.ok) return
      t.equal(first.record.version, 1, 'version 1 on creation')
      t.ok(within(first.record.updatedAt, before, after), 'updatedAt from the backend clock')
      t.same((await peer.getRecord(col, 'a'))?.value, { spec: '* * * * *', n: 1, nested: { list: [1, 'two', null] } }, 'another node reads the same value')
      const second = await backend.putRecord(col, 'a', 'plain string')
      t.ok(second.ok && second.record.version === 2, 'an unconditional write bumps the version')
      t.match(await backend.getRecord(col, 'a'), { key: 'a', value: 'plain string', version: 2 })
    })

    conformanceCaseNeeding(t, ctx, ['records'], 'compare-and-set: ifVersion and ifVersion null', async t => {
      const col = collection('cas')
      const created = await backend.putRecord(col, 'k', { v: 1 }, { ifVersion: null })
      t.ok(created.ok, 'ifVersion null creates a missing record')
      const again = await peer.putRecord(col, 'k', { v: 'other' }, { ifVersion: null })
      t.notOk(again.ok, 'ifVersion null refuses an existing record')
      if (!again.ok) t.match(again.current, { key: 'k', value: { v: 1 }, version: 1 }, 'and reports what is stored')
      const stale = await backend.putRecord(col, 'k', { v: 2 }, { ifVersion: 7 })
      t.notOk(stale.ok, 'a wrong version is refused')
      t.same((await backend.getRecord(col, 'k'))?.value, { v: 1 }, 'nothing was written')
      const missing = await backend.putRecord(col, 'nope', { v: 2 }, { ifVersion: 1 })
      t.same(missing, { ok: false, current: null }, 'a version condition on a missing record is refused')
      const good = await backend.putRecord(col, 'k', { v: 2 }, { ifVersion: 1 })
      t.ok(good.ok && good.record.version === 2, 'the right version writes')
    })

    conformanceCaseNeeding(t, ctx, ['records'], 'compare-and-set: concurrent writers of one version, exactly one wins', async t => {
      const col = collection('race')
      await backend.putRecord(col, 'k', { n: 0 })
      const clients = [backend, peer]
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => (clients[i % 2] ?? backend).putRecord(col, 'k', { n: i + 1 }, { ifVersion: 1 })))
      t.equal(results.filter(r => r.ok).length, 1, 'one winner')
      t.equal((await backend.getRecord(col, 'k'))?.version, 2, 'one write happened')
    })

    conformanceCaseNeeding(t, ctx, ['records'], 'list: key order, limit, afterKey paging; collections are separate', async t => {
      const col = collection('list')
      const other = collection('list-other')
      const keys = ['b', 'a', 'c:1', 'c:2', 'Z', 'd']
      for (const key of keys) await backend.putRecord(col, key, { key })
      await backend.putRecord(other, 'a', { other: true })
      const all = await backend.listRecords(col, { limit: 100 })
      t.same(all.map(r => r.key), ['Z', 'a', 'b', 'c:1', 'c:2', 'd'], 'byte order')
      t.same(all[1]?.value, { key: 'a' }, 'values come with the list')
      const first = await backend.listRecords(col, { limit: 2 })
      t.same(first.map(r => r.key), ['Z', 'a'])
      const next = await backend.listRecords(col, { limit: 3, afterKey: 'a' })
      t.same(next.map(r => r.key), ['b', 'c:1', 'c:2'], 'afterKey is exclusive')
      t.same(await backend.listRecords(col, { limit: 0 }), [], 'limit 0: nothing')
      t.same(await backend.listRecords(collection('list-empty'), { limit: 10 }), [], 'an unknown collection is empty')
    })

    conformanceCaseNeeding(t, ctx, ['records'], 'delete: idempotent, optionally by version', async t => {
      const col = collection('delete')
      await backend.putRecord(col, 'k', 1)
      await backend.putRecord(col, 'k', 2)
      t.equal(await backend.deleteRecord(col, 'k', { ifVersion: 1 }), false, 'a stale version does not delete')
      t.equal(await peer.deleteRecord(col, 'k', { ifVersion: 2 }), true, 'the current version deletes')
      t.equal(await backend.getRecord(col, 'k'), null, 'gone')
      t.equal(await backend.deleteRecord(col, 'k'), false, 'deleting a missing record: false')
      t.same(await backend.listRecords(col, { limit: 10 }), [], 'no longer listed')
      const recreated = await backend.putRecord(col, 'k', 3, { ifVersion: null })
      t.ok(recreated.ok && recreated.record.version === 1, 'a recreated record starts at version 1 again')
    })

    conformanceCaseNeeding(t, ctx, ['records'], 'bad arguments are refused naming the field', async t => {
      const col = collection('bad')
      const cases: Array<[string, () => Promise<unknown>, string]> = [
        ['collection with upper case', () => backend.putRecord('Bad', 'k', 1), 'collection'],
        ['empty key', () => backend.putRecord(col, '', 1), 'key'],
        ['value that is not JSON', () => backend.putRecord(col, 'k', undefined), 'value'],
        ['oversized value', () => backend.putRecord(col, 'k', 'x'.repeat(RECORD_VALUE_MAX_BYTES + 1)), 'value'],
        ['ifVersion 0', () => backend.putRecord(col, 'k', 1, { ifVersion: 0 }), 'ifVersion'],
        ['negative limit', () => backend.listRecords(col, { limit: -1 }), 'limit'],
        ['claim ttl 0', () => backend.claimOnce(col, 0), 'ttlMs'],
        ['empty claim key', () => backend.claimOnce('', 1000), 'key']
      ]
      for (const [what, call, field] of cases) {
        try {
          await call()
          t.fail(`${what}: accepted`)
        } catch (err) {
          t.ok(isSwitchyardError(err) && err.code === 'VALIDATION_FAILED', `${what}: VALIDATION_FAILED`, { found: err })
          t.equal((err as { details?: { field?: unknown } }).details?.field, field, `${what}: names ${field}`)
        }
      }
    })

    conformanceCaseNeeding(t, ctx, ['records'], 'claimOnce: one winner among concurrent claimers on every node', async t => {
      const key = `${ctx.name('claim')}:1700000000000`
      const clients = [backend, peer]
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (clients[i % 2] ?? backend).claimOnce(key, 60_000)))
      t.equal(results.filter(Boolean).length, 1, 'exactly one true')
      t.equal(await peer.claimOnce(key, 60_000), false, 'a later claim is refused while it lasts')
      t.equal(await backend.claimOnce(`${key}:other`, 60_000), true, 'another key is independent')
    })

    conformanceCaseNeeding(t, ctx, ['records'], 'claimOnce: a claim can be taken again once its ttl passed', async t => {
      const key = ctx.name('claim-expiry')
      t.equal(await backend.claimOnce(key, 300), true, 'claimed with a short ttl')
      t.equal(await peer.claimOnce(key, 300), false, 'refused while it lasts')
      const again = await waitFor(async () => await peer.claimOnce(key, 60_000), { timeoutMs: 10_000, what: 'the claim to expire' })
      t.equal(again, true, 'claimable after expiry')
      t.equal(await backend.claimOnce(key, 60_000), false, 'and held again by the new claimer')
    })
  }
}
