// Each Lua script on its own against real Redis, BullMQ style: call the script with
// its KEYS/ARGV and assert the keys it leaves behind.
import { createHash, randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { keysFor } from './keys.ts'
import { defineScripts, evalScript, luaFileNames, SCRIPT_KEYS, type ScriptArg } from './scripts.ts'
import { deleteKeys, randomPrefix, TEST_REDIS_URL } from './testing.ts'

const redis = new Redis(TEST_REDIS_URL)
const run = defineScripts(redis)
t.teardown(() => redis.quit())

interface TaskArgs { queue?: string, handler?: string, payload?: unknown, maxAttempts?: number, priority?: number, runAt?: number | '', delayMs?: number, key?: string }

/** A fresh keyspace per test; deleted when the test ends. */
function space (tt: Test) {
  const k = keysFor(randomPrefix('script'))
  tt.teardown(() => deleteKeys(redis, k.base))
  const enqueue = async (tasks: TaskArgs[]): Promise<string[]> => {
    const args: ScriptArg[] = [k.base, k.workChannel, '', k.eventsChannel, 1000, 13]
    for (const x of tasks) {
      args.push(x.queue ?? 'q', x.handler ?? 'h', JSON.stringify(x.payload ?? {}), x.maxAttempts ?? 3, x.priority ?? 0, 1000,
        x.runAt ?? '', x.delayMs ?? 0, x.key ?? '', '', '', '', '')
    }
    const reply = await run('enqueue', [k.idem, k.all, k.seq, k.queues, k.events, k.eventIndex, k.eventCount], args) as Array<string | number>
    return reply.filter((_, i) => i % 2 === 0) as string[]
  }
  /** handlers: the caller's handler set (undefined: every handler) */
  const lease = async (queues: string[], limit = 10, leaseMs = 30_000, handlers?: string[]): Promise<Array<{ id: string, token: string }>> => {
    const only = handlers === undefined ? [-1] : [handlers.length, ...handlers]
    const reply = await run('lease', [k.processing, k.globalPause, k.paused, k.leaseSeq],
      [k.base, k.workChannel, 'w1', limit, leaseMs, 1000, 1000, '0', ...only, ...queues]) as string[]
    const out = []
    for (let i = 1; i < reply.length; i += 11) out.push({ id: reply[i]!, token: reply[i + 10]! })
    return out
  }
  return { k, enqueue, lease }
}

t.test('every lua file is registered with its key count, and every registered script exists', async (t) => {
  t.same(luaFileNames(), Object.keys(SCRIPT_KEYS).sort())
})

t.test('enqueue: task hash, ready/scheduled index, registry, idempotency, publish, events of created tasks', async (t) => {
  const { k, enqueue } = space(t)
  const sub = redis.duplicate()
  t.teardown(() => sub.quit())
  const messages: string[] = []
  sub.on('message', (_c: string, m: string) => messages.push(m))
  await sub.subscribe(k.workChannel)
  const now = Number((await redis.time())[0]) * 1000
  const reply = await run('enqueue', [k.idem, k.all, k.seq, k.queues, k.events, k.eventIndex, k.eventCount], [k.base, k.workChannel, 'task.enqueued', k.eventsChannel, 1000, 13,
    'q', 'h', '{"a":1}', 3, 0, 1000, '', 0, 'key-1', '{"queue":"q","handler":"h"}', '', '', '',
    'q', 'h', '{"a":2}', 3, 0, 1000, '', 0, 'key-1', '{"queue":"q","handler":"h"}', '', '', '',
    'later', 'h', '{}', 3, 0, 1000, now + 60_000, 0, '', '{}', '', '', '']) as Array<string | number>
  t.same(reply, ['000000000001', 1, '000000000001', 0, '000000000002', 1], 'duplicate key answers the first id, created 0')
  const entries = await redis.xrange(k.events, '-', '+')
  t.same(entries.map(([, fields]) => fields), [
    ['n', '2', 'b', '[["task.enqueued",{"id":"000000000001","queue":"q","handler":"h"}],["task.enqueued",{"id":"000000000002"}]]']
  ], 'one event per created task, its id first, in the same script: the call\'s events as one entry')
  t.same(await redis.lrange(k.eventIndex, 0, -1), [`${entries[0]![0]} 2`], 'the entry indexed with its event count')
  t.equal(await redis.get(k.eventCount), '2')
  const created = await redis.hgetall(k.task('000000000001'))
  t.match(created, { q: 'q', h: 'h', p: '{"a":1}', s: 'ready', m: '3', ik: 'key-1' })
  // fields at their defaults are left out until a transition writes them (codec.ts reads them back)
  t.same([created.a, created.rp, created.ps, created.ua], [undefined, undefined, undefined, undefined], 'no attempts, replays, payload size or updatedAt written')
  t.match(created.ca, /^\d{13}$/, 'createdAt in whole milliseconds')
  t.equal(await redis.hget(k.idem, 'key-1'), '000000000001')
  t.same(await redis.zrange(`${k.base}r:q`, 0, -1), ['000000000001'])
  t.same(await redis.zrange(`${k.base}s:later`, 0, -1), ['000000000002'])
  t.equal(await redis.hget(k.task('000000000002'), 's'), 'scheduled')
  t.same((await redis.hkeys(k.queues)).sort(), ['later', 'q'])
  t.same(await redis.zrange(k.all, 0, -1), ['000000000001', '000000000002'])
  await enqueue([{ queue: 'q' }])
  const deadline = Date.now() + 2000
  while (messages.length === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r))
  t.ok(messages.includes('q'), 'ready work is published on the work channel')
})

t.test('lease: priority then runAt then id order, attempts, processing index, counters, paused and global pause', async (t) => {
  const { k, enqueue, lease } = space(t)
  const now = Number((await redis.time())[0]) * 1000
  const ids = await enqueue([{ runAt: now - 10 }, { priority: 5, runAt: now }, { runAt: now - 20 }, { runAt: now - 20 }])
  const leased = await lease(['q'], 3, 5000)
  t.same(leased.map((l) => l.id), [ids[1], ids[2], ids[3]], 'priority first, then earlier runAt, then creation order')
  t.equal(new Set(leased.map((l) => l.token)).size, 3, 'distinct lease tokens')
  const h = await redis.hgetall(k.task(ids[1]!))
  t.match(h, { s: 'processing', a: '1', w: 'w1', lt: leased[0]!.token })
  t.equal(await redis.zcard(k.processing), 3)
  t.equal(await redis.hget(`${k.base}c:q`, 'p'), '3')
  await redis.hset(k.paused, 'q', '1')
  t.same(await lease(['q']), [], 'a paused queue is skipped')
  await redis.hdel(k.paused, 'q')
  await redis.set(k.globalPause, '1')
  t.same(await lease(['q']), [], 'global pause leases nothing')
  await redis.del(k.globalPause)
  t.same((await lease(['q'])).map((l) => l.id), [ids[0]])
})

t.test('lease: promotes due scheduled and retrying tasks, fills from queues in order', async (t) => {
  const { k, enqueue, lease } = space(t)
  const now = Number((await redis.time())[0]) * 1000
  const [sched] = await enqueue([{ queue: 'a', runAt: now + 60_000 }])
  await redis.zadd(`${k.base}s:a`, now - 1, sched!) // make it due without waiting
  await redis.hset(k.task(sched!), 'ra', now - 1)
  const [b1, b2] = await enqueue([{ queue: 'b' }, { queue: 'b' }])
  const leased = await lease(['a', 'b'], 2)
  t.same(leased.map((l) => l.id), [sched, b1], 'first queue first, then the next')
  t.equal(await redis.zcard(`${k.base}s:a`), 0, 'promoted out of the scheduled index')
  t.same(await redis.zrange(`${k.base}r:b`, 0, -1), [b2])
})

t.test('lease with handlers: parks what the caller cannot run (same score), merges parked tasks back in run order', async (t) => {
  const { k, enqueue, lease } = space(t)
  const parked = (h: string): string => `${k.base}k:1:q:${h}`
  const [sms1, mail1, sms2, mail2, push] = await enqueue([
    { handler: 'sms', priority: 9 }, { handler: 'mail', priority: 8 }, { handler: 'sms', priority: 7 }, { handler: 'mail', priority: 1 }, { handler: 'push', priority: 5 }
  ])
  const scoreOf = await redis.zscore(`${k.base}r:q`, sms1!)
  t.same((await lease(['q'], 1, 30_000, ['mail'])).map((l) => l.id), [mail1], 'the first mail task, behind an sms one')
  t.same(await redis.zrange(parked('sms'), 0, -1), [sms1, sms2], 'the sms tasks met on the way are parked')
  t.equal(await redis.zscore(parked('sms'), sms1!), scoreOf, 'with its ready score')
  t.same(await redis.smembers(`${k.base}kh:q`), ['sms'])
  const smsTask = await redis.hgetall(k.task(sms1!))
  t.same([smsTask.s, smsTask.a], ['ready', undefined], 'still ready, no attempt')
  t.same((await lease(['q'], 10, 30_000, [])), [], 'an empty set leases nothing and parks nothing')
  t.same(await redis.zrange(`${k.base}r:q`, 0, -1), [push, mail2])
  t.same((await lease(['q'], 10, 30_000, ['mail'])).map((l) => l.id), [mail2])
  t.same(await redis.zrange(parked('push'), 0, -1), [push])
  t.equal(await redis.zcard(`${k.base}r:q`), 0)
  const stats = await run('stats', [k.queues, k.weights, k.paused], [k.base, 'q']) as Array<string | number>
  t.equal(stats[1], 3, 'parked tasks count as ready')
  const listed = await run('list', [k.all], [k.base, 'ready', 'q', '', '', 0, 10, 100]) as [number, number, ...Array<[string, string[]]>]
  t.equal(listed[0], 3, 'list total counts them')
  t.same(listed.slice(4).map((e) => (e as [string, string[]])[0]), [sms1, sms2, push], 'listed in run order across parked indexes')
  const [late] = await enqueue([{ handler: 'sms', priority: 8 }])
  t.same((await lease(['q'], 2, 30_000, ['sms', 'push'])).map((l) => l.id), [sms1, late], 'parked and ready merged by score')
  t.same((await lease(['q'], 10)).map((l) => l.id), [sms2, push], 'every handler: parked ones too, in order')
  t.same(await redis.smembers(`${k.base}kh:q`), [], 'emptied parked indexes are forgotten')
  t.equal(await redis.hget(`${k.base}c:q`, 'p'), '6')
})

t.test('parked tasks: cancel, delete and requeue find them; pending counts follow; pending_handlers reports them', async (t) => {
  const { k, enqueue, lease } = space(t)
  const parked = (h: string): string => `${k.base}k:1:q:${h}`
  const [a, b, c] = await enqueue([{ handler: 'x' }, { handler: 'x' }, { handler: 'y' }])
  t.same(await lease(['q'], 10, 30_000, ['none']), [])
  t.equal(await redis.zcard(parked('x')), 2)
  t.same(await redis.hgetall(`${k.base}ph:q`), { x: '2', y: '1' }, 'parking keeps the pending counts')
  const pending = await run('pending_handlers', [k.queues], [k.base, 10, 'q', 'unknown']) as string[]
  // (queue, handler) pairs come in set order: compare them sorted
  const pairs = (flat: string[]): string[] => flat.flatMap((v, i) => i % 2 === 0 ? [`${v}/${flat[i + 1] ?? ''}`] : []).sort()
  t.same(pairs(pending), ['q/x', 'q/y'], 'parked handlers, once each')
  t.same(await run('cancel', [k.canceled], [k.base, a!]), ['canceled', []])
  t.same(await redis.zrange(parked('x'), 0, -1), [b])
  await run('requeue', [k.queues], [k.base, k.workChannel, 'ready', '', '', 0, 'ids', b!])
  t.same(await redis.zrange(`${k.base}r:q`, 0, -1), [b], 'requeued back into the ready index')
  t.same(await redis.smembers(`${k.base}kh:q`), ['y'], 'the emptied parked index is forgotten')
  await run('delete', [k.all], [k.base, 'ready', 0, c!])
  t.same(await redis.smembers(`${k.base}kh:q`), [])
  t.equal(await redis.exists(parked('y')), 0)
  t.same(await redis.hgetall(`${k.base}ph:q`), { x: '1' }, 'canceled and deleted tasks left the counts; a requeued ready one stays')
  t.same(await run('pending_handlers', [k.queues], [k.base, 10, 'q']), ['q', 'x'])
  t.same(await run('pending_handlers', [k.queues], [k.base, 0, 'q']), [], 'limit 0: none')
})

t.test('complete: succeeded, indexes and counters move; stale token is lease_lost', async (t) => {
  const { k, enqueue, lease } = space(t)
  await enqueue([{}, {}])
  const [a, b] = await lease(['q'])
  const reply = await run('complete', [k.processing, k.succeeded], [k.base, a!.id, a!.token, '{"sent":2}', b!.id, 'stale', ''])
  t.same(reply, [1, 0])
  const h = await redis.hgetall(k.task(a!.id))
  t.match(h, { s: 'succeeded', rv: '{"sent":2}' })
  // the lease token and expiry stay behind: every lease check also wants state 'processing'
  t.equal(h.lt, a!.token)
  t.notOk(h.le, 'no error was ever set, none is written')
  t.ok(Number(await redis.hget(k.task(a!.id), 'fa')) > 0)
  t.same(await redis.zrange(k.succeeded, 0, -1), [a!.id])
  t.same(await redis.zrange(k.processing, 0, -1), [b!.id])
  t.match(await redis.hgetall(`${k.base}c:q`), { p: '1', ok: '1' })
  // a stale token for a task no longer processing stays lease_lost, whatever token it held
  t.same(await run('complete', [k.processing, k.succeeded], [k.base, a!.id, a!.token, '']), [0], 'a finished task is not completed twice')
  // a last error is cleared on success; a completion without a result writes none
  await redis.hset(k.task(b!.id), 'le', 'earlier failure')
  t.same(await run('complete', [k.processing, k.succeeded], [k.base, b!.id, b!.token, '']), [1])
  const hb = await redis.hgetall(k.task(b!.id))
  t.equal(hb.le, '')
  t.notOk(hb.rv)
  t.same(await redis.zrange(k.succeeded, 0, -1), [a!.id, b!.id])
  t.same(await redis.zrange(k.processing, 0, -1), [])
})

t.test('fail: retry into the retrying index; last attempt or null delay dead-letters; errors bounded', async (t) => {
  const { k, enqueue, lease } = space(t)
  const [id] = await enqueue([{ maxAttempts: 2 }])
  let [l] = await lease(['q'])
  t.same(await run('fail', [k.processing, k.dead], [k.base, k.workChannel, id!, l!.token, 'first', 'stack1', 60_000]), [['retrying'], []])
  t.equal(await redis.zcard(`${k.base}y:q`), 1)
  t.match(await redis.hgetall(k.task(id!)), { s: 'retrying', le: 'first' })
  await redis.zadd(`${k.base}y:q`, 0, id!)
  ;[l] = await lease(['q'])
  t.equal(l!.id, id)
  t.same(await run('fail', [k.processing, k.dead], [k.base, k.workChannel, id!, l!.token, 'second', '', 0]), [['dead'], []], 'attempts spent → dead even with a delay')
  const h = await redis.hgetall(k.task(id!))
  t.equal(h.s, 'dead')
  t.same(JSON.parse(h.er!).map((e: { message: string }) => e.message), ['second', 'first'], 'newest error first')
  t.same(await redis.zrange(k.dead, 0, -1), [id])
  t.match(await redis.hgetall(`${k.base}c:q`), { p: '0', d: '1' })
  t.same(await redis.hgetall(k.deadByHandler), { h: '1' })
  t.same(await run('fail', [k.processing, k.dead], [k.base, k.workChannel, id!, l!.token, 'again', '', '']), [['lease_lost'], []])
  // bounded history
  const [id2] = await enqueue([{ maxAttempts: 50 }])
  for (let i = 0; i < 12; i++) {
    await redis.zadd(`${k.base}y:q`, 0, id2!)
    const [x] = await lease(['q'])
    await run('fail', [k.processing, k.dead], [k.base, k.workChannel, id2!, x!.token, `e${i}`, '', 0])
  }
  t.equal(JSON.parse((await redis.hget(k.task(id2!), 'er'))!).length, 10, 'at most 10 errors kept')
})

t.test('extend and release', async (t) => {
  const { k, enqueue, lease } = space(t)
  await enqueue([{}, {}])
  const [a, b] = await lease(['q'], 2, 1000)
  const before = Number(await redis.zscore(k.processing, a!.id))
  const [deadline, lost] = await run('extend', [k.processing], [k.base, 60_000, a!.id, a!.token, b!.id, 'stale']) as number[]
  t.ok(deadline! > before + 50_000, 'deadline pushed')
  t.equal(lost, -1)
  t.equal(Number(await redis.zscore(k.processing, a!.id)), deadline)
  t.equal(Number(await redis.hget(k.task(a!.id), 'lx')), deadline)
  t.same(await run('release', [k.processing], [k.base, k.workChannel, b!.id, b!.token, a!.id, 'stale']), [1, 0])
  t.match(await redis.hgetall(k.task(b!.id)), { s: 'ready', a: '0', lt: '' })
  t.same(await redis.zrange(`${k.base}r:q`, 0, -1), [b!.id])
  t.equal(await redis.hget(`${k.base}c:q`, 'p'), '1')
})

t.test('recover: expired leases requeue, last attempts dead-letter, bounded by limit', async (t) => {
  const { k, enqueue, lease } = space(t)
  const [retry, last] = await enqueue([{ maxAttempts: 2 }, { maxAttempts: 1 }])
  const leased = await lease(['q'], 2, 60_000)
  for (const l of leased) await redis.zadd(k.processing, 1, l.id) // expired long ago
  const [requeued1, dead1] = await run('recover', [k.processing, k.dead], [k.base, k.workChannel, 1]) as string[][]
  t.equal(requeued1!.length + dead1!.length, 1, 'limit honoured')
  const [requeued2, dead2] = await run('recover', [k.processing, k.dead], [k.base, k.workChannel, 10]) as string[][]
  t.same([...requeued1!, ...requeued2!], [retry])
  t.same([...dead1!, ...dead2!], [last])
  t.match(await redis.hgetall(k.task(retry!)), { s: 'ready', a: '1', lt: '' })
  t.match(await redis.hgetall(k.task(last!)), { s: 'dead', le: /lease expired/ })
  t.equal(await redis.zcard(k.processing), 0)
  t.match(await redis.hgetall(`${k.base}c:q`), { p: '0', d: '1' })
})

t.test('cancel: wins before start, conflicts after', async (t) => {
  const { k, enqueue, lease } = space(t)
  const [a, b] = await enqueue([{}, {}])
  t.same(await run('cancel', [k.canceled], [k.base, a!]), ['canceled', []])
  t.same(await redis.zrange(`${k.base}r:q`, 0, -1), [b])
  t.same(await redis.zrange(k.canceled, 0, -1), [a])
  t.equal(await redis.hget(`${k.base}c:q`, 'x'), '1')
  await lease(['q'])
  t.same(await run('cancel', [k.canceled], [k.base, b!]), ['conflict', 'processing'])
  t.same(await run('cancel', [k.canceled], [k.base, 'missing']), ['not_found'])
})

t.test('list: totals from counters, filters, scan cap, order', async (t) => {
  const { k, enqueue } = space(t)
  await enqueue([{ queue: 'a', handler: 'x', payload: { s: 'Needle' } }, { queue: 'a', handler: 'y' }, { queue: 'b', handler: 'x' }])
  const list = async (state: string, queue: string, handler: string, query: string, offset = 0, limit = 10, cap = 100) => {
    const reply = await run('list', [k.all], [k.base, state, queue, handler, query, offset, limit, cap]) as [number, number, ...Array<[string, string[]]>]
    return { total: reply[0], capped: reply[1], ids: reply.slice(4).map((e) => (e as [string, string[]])[0]) }
  }
  const page = async (state: string, handler: string, after: [string, string], limit: number, cap = 100) => {
    const reply = await run('list', [k.all], [k.base, state, '', handler, '', 0, limit, cap, '', '', '', '', '', ...after]) as [number, number, string, string, ...Array<[string, string[]]>]
    return { next: [reply[2], reply[3]] as [string, string], ids: reply.slice(4).map((e) => (e as [string, string[]])[0]) }
  }
  t.same(await list('', '', '', ''), { total: 3, capped: 0, ids: ['000000000003', '000000000002', '000000000001'] }, 'newest first')
  t.same(await list('ready', '', '', ''), { total: 3, capped: 0, ids: ['000000000001', '000000000002', '000000000003'] }, 'run order merged across queues')
  t.same(await list('ready', 'a', '', '', 1, 10), { total: 2, capped: 0, ids: ['000000000002'] }, 'offset')
  t.same(await list('', 'a', '', ''), { total: 2, capped: 0, ids: ['000000000002', '000000000001'] }, 'queue filter counts exactly')
  t.same(await list('', '', 'x', ''), { total: 2, capped: 0, ids: ['000000000003', '000000000001'] }, 'handler filter: counted while the candidates fit in the cap')
  t.same(await list('', '', 'x', '', 0, 1), { total: 2, capped: 0, ids: ['000000000003'] }, 'handler filter: counted past the page')
  t.same(await list('ready', 'a', 'y', '', 0, 0), { total: 1, capped: 0, ids: [] }, 'limit 0: the total alone')
  t.same(await list('', '', '', 'needle'), { total: 1, capped: 0, ids: ['000000000001'] }, 'text over payload')
  t.same(await list('', '', '', 'needle', 0, 10, 2), { total: -1, capped: 1, ids: [] }, 'the scan cap stops a selective search; more candidates than the cap: no total')

  // keyset: (score, id) positions, read as by-score ranges after the position
  const first = await page('', '', ['', ''], 2)
  t.same(first.ids, ['000000000003', '000000000002'], 'newest first, a page of two')
  t.equal(first.next[1], '000000000002', 'the position is the last task of the page')
  t.same(await page('', '', first.next, 2), { next: ['', ''], ids: ['000000000001'] }, 'the rest, and no position after the last page')
  const ready = await page('ready', '', ['', ''], 1)
  t.same((await page('ready', '', ready.next, 5)).ids, ['000000000002', '000000000003'], 'run order across queues continues after the position')
  const cut = await page('', 'x', ['', ''], 5, 1)
  t.same(cut.ids, ['000000000003'], 'the scan cap cuts the page short')
  t.equal(cut.next[1], '000000000003', 'a capped page gives the last candidate examined as the position')
  const rest = await page('', 'x', cut.next, 5, 1)
  t.same(rest.ids, [], 'the next page examines from there (000000000002 does not match)')
  t.same((await page('', 'x', rest.next, 5, 1)).ids, ['000000000001'], 'and the page after reaches the last match')
})

t.test('requeue: by ids and by filter, fresh attempts, replays, new queue and payload, dry run', async (t) => {
  const { k, enqueue, lease } = space(t)
  const [a, b] = await enqueue([{ maxAttempts: 1 }, { maxAttempts: 1 }])
  for (const l of await lease(['q'])) await run('fail', [k.processing, k.dead], [k.base, k.workChannel, l.id, l.token, 'x', '', ''])
  const head = (dry: number, queue = '', payload = '') => [k.base, k.workChannel, 'dead', queue, payload, dry]
  const [wouldMove] = await run('requeue', [k.queues], [...head(1), 'ids', a!]) as string[][]
  t.same(wouldMove, [a])
  t.equal(await redis.hget(k.task(a!), 's'), 'dead', 'dry run changes nothing')
  const [moved, skipped] = await run('requeue', [k.queues], [...head(0, 'other', '{"new":true}'), 'ids', a!, 'missing']) as string[][]
  t.same(moved, [a])
  t.same(skipped, ['missing', 'not_found', ''])
  t.match(await redis.hgetall(k.task(a!)), { s: 'ready', a: '0', rp: '1', q: 'other', p: '{"new":true}', ps: '12' })
  t.same(await redis.zrange(`${k.base}r:other`, 0, -1), [a])
  t.equal(await redis.hexists(k.queues, 'other'), 1, 'target queue registered')
  t.match(await redis.hgetall(`${k.base}c:q`), { d: '1' })
  const [again, wrong] = await run('requeue', [k.queues], [...head(0), 'ids', a!]) as string[][]
  t.same(again, [])
  t.same(wrong, [a, 'wrong_state', 'ready'], 'replaying twice skips the now-ready task')
  const [byFilter] = await run('requeue', [k.queues], [...head(0), 'filter', 'dead', '', '', '', 10, 100]) as string[][]
  t.same(byFilter, [b])
  t.equal(await redis.zcard(k.dead), 0)
})

t.test('delete and prune remove every trace', async (t) => {
  const { k, enqueue, lease } = space(t)
  const [a, b, c] = await enqueue([{ key: 'ka' }, {}, {}])
  const [deleted, skipped] = await run('delete', [k.all], [k.base, 'ready', 0, a!, 'nope']) as string[][]
  t.same(deleted, [a])
  t.same(skipped, ['nope', 'not_found', ''])
  t.equal(await redis.exists(k.task(a!)), 0)
  t.equal(await redis.hexists(k.idem, 'ka'), 0, 'idempotency key freed')
  t.same(await redis.zrange(k.all, 0, -1), [b, c])
  for (const l of await lease(['q'])) await run('complete', [k.processing, k.succeeded], [k.base, l.id, l.token, ''])
  t.equal(await run('prune', [k.succeeded], [k.base, 60_000, 10]), 0, 'nothing old enough')
  await redis.zadd(k.succeeded, 1, b!)
  t.equal(await run('prune', [k.canceled], [k.base, 60_000, 10]), 0, 'another state is left alone')
  t.equal(await run('prune', [k.succeeded], [k.base, 60_000, 10]), 1)
  t.equal(await redis.exists(k.task(b!)), 0)
  t.equal(await redis.hget(`${k.base}c:q`, 'ok'), '1')
})

t.test('stats and dlq_stats read counters, not tasks', async (t) => {
  const { k, enqueue, lease } = space(t)
  await enqueue([{ queue: 'a' }, { queue: 'a', maxAttempts: 1 }, { queue: 'b', runAt: 8_000_000_000_000 }])
  const [l1, l2] = await lease(['a'])
  await run('fail', [k.processing, k.dead], [k.base, k.workChannel, l2!.id, l2!.token, 'x', '', ''])
  await run('queue_set', [k.queues, k.weights], [k.workChannel, 'a', 4, 0])
  await run('queue_set', [k.queues, k.paused], [k.workChannel, 'b', 1, 1])
  t.same(await run('stats', [k.queues, k.weights, k.paused], [k.base, 'a', 'b', 'unknown']), [
    'a', 0, 0, 0, '1', '1', '0', '0', '4', 0, '0', 0,
    'b', 0, 1, 0, '0', '0', '0', '0', '', 1, '0', 0
  ])
  t.ok(l1)
  const [total, byQueue, byHandler, oldest, newest] = await run('dlq_stats', [k.dead, k.queues, k.deadByHandler], [k.base]) as [number, unknown[], string[], string, string]
  t.equal(total, 1)
  t.same(byQueue, ['a', 1])
  t.same(byHandler, ['h', '1'])
  t.ok(Number(oldest) > 0 && oldest === newest)
})

t.test('queues_ensure, queue_set clear, pause_global wakes every queue', async (t) => {
  const { k } = space(t)
  await run('queues_ensure', [k.queues], ['x', 'y', 'x'])
  t.same((await redis.hkeys(k.queues)).sort(), ['x', 'y'])
  await run('queue_set', [k.queues, k.weights], [k.workChannel, 'x', 2, 0])
  await run('queue_set', [k.queues, k.weights], [k.workChannel, 'x', '', 0])
  t.equal(await redis.hexists(k.weights, 'x'), 0)
  await run('pause_global', [k.globalPause, k.queues], [k.workChannel, 1])
  t.equal(await redis.get(k.globalPause), '1')
  const sub = redis.duplicate()
  t.teardown(() => sub.quit())
  const woke: string[] = []
  sub.on('message', (_c: string, m: string) => woke.push(m))
  await sub.subscribe(k.workChannel)
  await run('pause_global', [k.globalPause, k.queues], [k.workChannel, 0])
  t.equal(await redis.exists(k.globalPause), 0)
  const deadline = Date.now() + 2000
  while (woke.length < 2 && Date.now() < deadline) await new Promise((r) => setImmediate(r))
  t.same(woke.sort(), ['x', 'y'])
})

t.test('leader_acquire / leader_release / coordination: fencing tokens increase on every change of holder', async (t) => {
  const { k } = space(t)
  const acquire = (holder: string, ttl = 60_000) => run('leader_acquire', [k.lock('cron'), k.lockTokens, k.lockNames], ['cron', holder, ttl]) as Promise<Array<string | number>>
  const first = await acquire('n1')
  t.match(first, [1, 'n1', 1])
  t.match(await acquire('n2'), [0, 'n1', '1'], 'held by another: refused')
  t.match(await acquire('n1'), [1, 'n1', '1'], 'renewal keeps the token')
  t.equal(await run('leader_release', [k.lock('cron')], ['n1', '99']), 0, 'wrong token does not release')
  t.equal(await run('leader_release', [k.lock('cron')], ['n1', '1']), 1)
  t.match(await acquire('n2', 1), [1, 'n2', 2])
  const [paused, limit, , leadersBefore] = await run('coordination', [k.globalPause, k.rate, k.lockNames], [k.base]) as [number, string, string, string[]]
  t.equal(paused, 0)
  t.equal(limit, '')
  t.ok(leadersBefore.length === 0 || leadersBefore[1] === 'n2')
  await redis.hset(k.lock('cron'), 'exp', 1) // expire it for certain
  t.match(await acquire('n3'), [1, 'n3', 3], 'an expired lock is taken with a new token')
  const [, , , leaders] = await run('coordination', [k.globalPause, k.rate, k.lockNames], [k.base]) as [number, string, string, string[]]
  t.match(leaders, ['cron', 'n3', '3'])
})

t.test('rate_set / rate_take: `limit` permits per epoch-aligned window', async (t) => {
  const { k } = space(t)
  t.equal(await run('rate_take', [k.rate], [7]), 7, 'no limit: everything granted')
  await run('rate_set', [k.rate], [5, 3_600_000])
  t.equal(await run('rate_take', [k.rate], [3]), 3)
  t.equal(await run('rate_take', [k.rate], [3]), 2)
  t.equal(await run('rate_take', [k.rate], [1]), 0)
  await redis.hset(k.rate, 'win', 0) // the counted window has long passed
  t.equal(await run('rate_take', [k.rate], [10]), 5, 'a new window grants the limit, never above')
  await run('rate_set', [k.rate], ['', ''])
  t.equal(await redis.exists(k.rate), 0)
})

t.test('worker_heartbeat / worker_list / worker_remove', async (t) => {
  const { k } = space(t)
  const HOUR = 3_600_000
  await run('worker_heartbeat', [k.workers, k.worker('a')], ['a', '{"id":"a"}', 60_000, HOUR])
  await run('worker_heartbeat', [k.workers, k.worker('b')], ['b', '{"id":"b"}', 60_000, HOUR])
  await run('worker_heartbeat', [k.workers, k.worker('c')], ['c', '{"id":"c"}', 60_000, HOUR])
  const now = Number((await redis.time())[0]) * 1000
  await redis.zadd(k.workers, now - 1000, 'b') // b's liveness deadline has passed: stale
  await redis.zadd(k.workers, 1, 'c') // c's passed more than the retention ago: forgotten
  const live = await run('worker_list', [k.workers], [k.base, 100, 0, HOUR]) as Array<string | number>
  t.same(live.filter((_, i) => i % 4 === 0), ['{"id":"a"}'], 'live workers only')
  const all = await run('worker_list', [k.workers], [k.base, 100, 1, HOUR]) as Array<string | number>
  t.same(all.filter((_, i) => i % 4 === 0).sort(), ['{"id":"a"}', '{"id":"b"}'], 'with stale ones')
  t.same(all.filter((_, i) => i % 4 === 3).sort(), [0, 1], 'b is flagged stale')
  t.equal(await redis.zscore(k.workers, 'c'), null, 'workers past the retention are dropped')
  await run('worker_remove', [k.workers, k.worker('a')], ['a'])
  t.same(await run('worker_list', [k.workers], [k.base, 100, 0, HOUR]), [])
  t.equal(await redis.exists(k.worker('a')), 0)
})

t.test('worker_cordon / worker_sweep: the cordon survives beats; only stale entries are swept', async (t) => {
  const { k } = space(t)
  const HOUR = 3_600_000
  t.same(await run('worker_heartbeat', [k.workers, k.worker('a')], ['a', '{"id":"a"}', 60_000, HOUR]) as number[], [Number((await redis.hget(k.worker('a'), 'hb'))), 0])
  t.equal(await run('worker_cordon', [k.workers, k.worker('a')], ['a', 1]), 1)
  t.equal(await run('worker_cordon', [k.workers, k.worker('zz')], ['zz', 1]), 0, 'no such worker')
  const [, cordoned] = await run('worker_heartbeat', [k.workers, k.worker('a')], ['a', '{"id":"a"}', 60_000, HOUR]) as number[]
  t.equal(cordoned, 1, 'the beat answers the cordon and keeps it')
  t.same(await run('worker_sweep', [k.workers], [k.base, 0, 100, 0, HOUR]), [], 'a live worker is never swept')
  const now = Number((await redis.time())[0]) * 1000
  await redis.zadd(k.workers, now - 1000, 'a')
  const preview = await run('worker_sweep', [k.workers], [k.base, 0, 100, 1, HOUR]) as Array<string | number>
  t.equal(preview[0], '{"id":"a"}')
  t.equal(preview[2], 1, 'reported with its cordon')
  t.equal(await redis.exists(k.worker('a')), 1, 'the dry run removed nothing')
  t.same(await run('worker_sweep', [k.workers], [k.base, HOUR, 100, 0, HOUR]), [], 'younger than the age asked for: kept')
  t.equal((await run('worker_sweep', [k.workers], [k.base, 0, 100, 0, HOUR]) as unknown[]).length, 3)
  t.equal(await redis.exists(k.worker('a')), 0, 'swept')
  t.equal(await redis.zscore(k.workers, 'a'), null)
})

t.test('evalScript: a script the server does not know is sent as EVAL, then runs by its sha', async (t) => {
  // a source no one has loaded (never SCRIPT FLUSH: other clients share this server)
  const lua = `return { KEYS[1], ARGV[1], ARGV[2], '${randomBytes(8).toString('hex')}' }`
  const sha = createHash('sha1').update(lua).digest('hex')
  t.same(await redis.script('EXISTS', sha), [0])
  const first = await evalScript(redis, { sha, lua }, ['k'], ['a', 2]) as string[]
  t.same(first.slice(0, 3), ['k', 'a', '2'])
  t.same(await redis.script('EXISTS', sha), [1], 'the EVAL loaded it')
  t.same(await evalScript(redis, { sha, lua }, ['k'], ['b', 3]), ['k', 'b', '3', first[3]])
  const bad = `return redis.call('NOSUCHCOMMAND', '${randomBytes(8).toString('hex')}')`
  const badScript = { sha: createHash('sha1').update(bad).digest('hex'), lua: bad }
  await t.rejects(evalScript(redis, badScript, [], []), /NOSUCHCOMMAND|Unknown/i, 'an error of the EVAL is the caller\'s')
  await t.rejects(evalScript(redis, badScript, [], []), /NOSUCHCOMMAND|Unknown/i, 'an error of a known script is the caller\'s')
})

t.test('events_append: one entry per call, trimmed by events held to the newest `keep` (plus the append)', async (t) => {
  const { k } = space(t)
  const append = async (events: Array<[string, unknown]>, keep = 100): Promise<string> =>
    await run('events_append', [k.events, k.eventIndex, k.eventCount], [k.eventsChannel, keep, events.length, JSON.stringify(events)]) as string
  const first = await append([['a', 1], ['b', 2]])
  t.match(first, /^\d+-\d+$/, 'answers the entry id')
  t.same(await redis.xrange(k.events, '-', '+'), [[first, ['n', '2', 'b', '[["a",1],["b",2]]']]])
  // an entry of the older layout (one event) goes with the first trim
  await redis.xadd(k.events, '*', 't', 'old', 'd', '0')
  const entries: string[] = []
  for (let i = 0; i < 10; i++) entries.push(await append(Array.from({ length: 30 }, (_, j) => ['e', i * 30 + j])))
  // 302 events appended; keeping 100 drops whole entries while the rest hold 100 or more
  const left = await redis.xrange(k.events, '-', '+')
  t.same(left.map(([id]) => id), entries.slice(-4), 'the newest entries holding at least 100 events are kept, older ones trimmed')
  t.equal(await redis.get(k.eventCount), '120', 'the count follows')
  t.same(await redis.lrange(k.eventIndex, 0, -1), entries.slice(-4).map(id => `${id} 30`), 'the index follows')
  const big = await append(Array.from({ length: 150 }, (_, j) => ['big', j]))
  t.same((await redis.xrange(k.events, '-', '+')).map(([id]) => id), [big], 'an append larger than keep is kept whole, alone')
  t.equal(await redis.get(k.eventCount), '150')
})

t.test('audit_list / audit_prune', async (t) => {
  const { k } = space(t)
  for (let i = 0; i < 6; i++) await redis.xadd(k.audit, '*', 'a', i % 2 === 0 ? 'pause' : 'resume', 'tg', `q${i % 3}`)
  const list = async (action: string, target: string, before = '', limit = 10) =>
    (await run('audit_list', [k.audit], [limit, action, target, '', before, 1000]) as Array<[string, string[]]>)
  const all = await list('', '')
  t.equal(all.length, 6)
  t.equal((await list('pause', '')).length, 3)
  t.equal((await list('', 'q0')).length, 2)
  t.equal((await list('', '', all[2]![0])).length, 3, 'beforeId pages backwards')
  t.equal(await run('audit_prune', [k.audit], [4, '']), 2)
  t.equal(await run('audit_prune', [k.audit], ['', 0]), 4, 'age 0 removes everything older than now')
})
