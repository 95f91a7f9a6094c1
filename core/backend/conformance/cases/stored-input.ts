import { MAX_JSON_DEPTH } from '../../storable.ts'
import { conformanceCase, conformanceCaseNeeding, enqueueOne, mustGetTask, newTask, refused, type ConformanceArea } from '../support.ts'

// Input a backend cannot store gets the same answer everywhere. Postgres text and
// jsonb cannot hold U+0000 or an unpaired surrogate, Redis would keep NUL and turn a
// lone surrogate into U+FFFD, and JSON has no Infinity or NaN: all of these are
// refused (VALIDATION_FAILED naming the field) before any backend is touched, and
// everything else a JSON string can hold comes back exactly as it went in.

function nested (levels: number): unknown {
  let value: unknown = 'bottom'
  for (let i = 0; i < levels; i++) value = [value]
  return value
}

export const storedInputArea: ConformanceArea = {
  name: 'stored-input',
  run (t, ctx) {
    const { backend } = ctx

    conformanceCase(t, 'a payload no backend can store whole is refused naming its path, and nothing of the batch is stored', async t => {
      const queue = ctx.name('refused')
      const cases: Array<[string, unknown, string]> = [
        ['NUL in a string', { text: 'a\u0000b' }, 'tasks[1].payload.text'],
        ['NUL in a key', { ['k\u0000']: 1 }, 'tasks[1].payload["k\\u0000"]'],
        ['unpaired surrogate', { list: ['ok', 'x\ud800'] }, 'tasks[1].payload.list[1]'],
        ['Infinity (1e999)', { n: JSON.parse('1e999') as number }, 'tasks[1].payload.n'],
        ['NaN', [Number.NaN], 'tasks[1].payload[0]'],
        ['nesting too deep', nested(MAX_JSON_DEPTH + 1), 'tasks[1].payload']
      ]
      for (const [what, payload, field] of cases) {
        await refused(t, what, () => backend.enqueue([newTask(queue, { payload: { fine: true } }), newTask(queue, { payload })]), field)
      }
      const page = await backend.listTasks({ queue, limit: 10, offset: 0 })
      t.same(page.tasks, [], 'the valid task of each refused batch was not stored either')
    })

    conformanceCaseNeeding(t, ctx, ['idempotencyKeys'], 'an idempotency key with NUL or an unpaired surrogate is refused', async t => {
      const queue = ctx.name('refused-key')
      await refused(t, 'NUL', () => backend.enqueue([newTask(queue, { idempotencyKey: 'key\u0000' })]), 'tasks[0].idempotencyKey')
      await refused(t, 'lone surrogate', () => backend.enqueue([newTask(queue, { idempotencyKey: '\udc00key' })]), 'tasks[0].idempotencyKey')
    })

    conformanceCase(t, 'a search or new payload no backend can store is refused naming the field', async t => {
      if (ctx.capabilities.taskFilters.includes('query')) {
        await refused(t, 'NUL in a query', () => backend.listTasks({ query: 'a\u0000', limit: 10, offset: 0 }), 'query')
        await refused(t, 'NUL in a requeue filter', () => backend.requeueTasks({ fromStates: ['dead'], filter: { query: '\u0000', limit: 10 } }), 'filter.query')
      }
      const id = await enqueueOne(backend, newTask(ctx.name('refused-replay')))
      await refused(t, 'NUL in a replacement payload', () => backend.requeueTasks({ fromStates: ['dead'], ids: [id], payload: { s: '\u0000' } }), 'payload.s')
      t.same((await mustGetTask(backend, id)).payload, {}, 'the task kept its payload')
    })

    conformanceCaseNeeding(t, ctx, ['records'], 'a record value no backend can store is refused naming its path', async t => {
      await refused(t, 'NUL in a record value', () => backend.putRecord('conformance.stored', ctx.name('r'), { s: 'x\u0000' }), 'value.s')
      await refused(t, 'NUL in a record key', () => backend.putRecord('conformance.stored', 'k\u0000', 1), 'key')
    })

    conformanceCase(t, 'everything else a JSON string can hold comes back exactly', async t => {
      const payload = {
        controls: '\u0001\u0007\b\t\n\f\r\u001b\u001f\u007f',
        separators: 'line\u2028paragraph\u2029',
        astral: '😀 𝄞 pair \ud83d\ude00',
        escapes: 'a literal \\u0000 and "quotes" and \\',
        ['key with \u0001 and 😀']: 'ok',
        numbers: [0, -1.5, 1e308, 5e-324, Number.MAX_SAFE_INTEGER],
        deep: nested(MAX_JSON_DEPTH - 1)
      }
      const key = ctx.capabilities.idempotencyKeys ? `clé ✓ 😀 \u0001 ${ctx.name('key')}` : null
      const id = await enqueueOne(backend, newTask(ctx.name('stored'), { payload, idempotencyKey: key }))
      const task = await mustGetTask(backend, id)
      t.same(task.payload, payload, 'payload round-trips exactly')
      t.equal(task.idempotencyKey, key, 'idempotency key round-trips exactly')
      if (key !== null) {
        const [again] = await backend.enqueue([newTask(ctx.name('stored'), { idempotencyKey: key })])
        t.same(again, { id, created: false }, 'and deduplicates')
      }
      if (ctx.capabilities.taskFilters.includes('query')) {
        const page = await backend.listTasks({ queue: ctx.name('stored'), query: '😀 𝄞', limit: 10, offset: 0 })
        t.same(page.tasks.map(found => found.id), [id], 'a query with astral characters finds it')
      }
    })
  }
}
