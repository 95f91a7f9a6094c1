// Statements outside a transaction run on PGlite as named prepared statements
// (pglite-prepared.ts): they must answer exactly what PGlite's own query() answers,
// deliver the notifications they send, keep Postgres' error fields, survive their
// prepared statement being dropped or going stale, and keep a bounded cache.
import t, { type Test } from 'tap'
import type { PGlite } from '@electric-sql/pglite'
import { LOCK_FILE_NAME } from './datadir-lock.ts'
import { openPglite } from './pglite-open.ts'
import { PreparedQueries } from './pglite-prepared.ts'

async function openDb (t: Test): Promise<PGlite> {
  // in memory, from the saved cluster (pglite-template.ts), as the backend opens it
  const db = await openPglite({ dir: null, settings: {}, optimizeWasm: false, lockFileName: LOCK_FILE_NAME })
  t.teardown(async () => { await db.close() })
  await db.exec(`CREATE TABLE items (id bigserial PRIMARY KEY, name text UNIQUE, label text, doc jsonb, at timestamptz DEFAULT now(), n int)`)
  return db
}

const READ = `SELECT id, name, label, ARRAY[name, label] AS pair, doc, at, n, $1::int8 AS big, $2::float8[] AS floats FROM items WHERE name = ANY($3::text[]) ORDER BY id`

t.test('answers what PGlite query() answers, as objects and as arrays, again and again', async t => {
  const db = await openDb(t)
  const prepared = new PreparedQueries(db)
  const insert = `INSERT INTO items (name, label, doc, n) SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::int[]) RETURNING id`
  // quotes, backslashes, commas, empty strings and nulls inside the arrays
  const params = [['a "quoted" one', 'back\\slash', '', 'comma,s'], ['{"x\\"y",z}', '{}', '{NULL}', '{""}'], ['{"k": "v"}', '[1, 2]', 'null', '"s"'], [1, null, 3, -4]]
  const inserted = await prepared.query<{ id: string }>(insert, params)
  t.same(inserted.rows.map(r => r.id), ['1', '2', '3', '4'], 'int8 as text, as PGlite parses it')
  t.equal(inserted.affectedRows, 4)
  const args = ['9007199254740993', [1.5, null, -2], ['a "quoted" one', 'back\\slash', '', 'comma,s', 'missing']]
  for (let round = 0; round < 8; round++) {
    // eight rounds: past the five custom plans after which Postgres may keep a generic one
    const mine = await prepared.query(READ, args)
    const theirs = await db.query(READ, args)
    t.same(mine.rows, theirs.rows, `round ${round}: rows as objects`)
    t.same(mine.fields, theirs.fields, `round ${round}: fields`)
    const mineArrays = await prepared.query(READ, args, 'array')
    const theirArrays = await db.query(READ, args, { rowMode: 'array' })
    t.same(mineArrays.rows, theirArrays.rows, `round ${round}: rows as arrays`)
  }
  const none = await prepared.query(`UPDATE items SET n = n + 1 WHERE n IS NOT NULL`, undefined)
  t.same(none.rows, [], 'a statement without RETURNING answers no rows')
  t.equal(none.affectedRows, 3)
})

t.test('arrays of strings, numbers and nulls come through as written', async t => {
  const db = await openDb(t)
  const prepared = new PreparedQueries(db)
  const text = ['NULL', 'null', '', ' ', 'a,b', '{x}', 'q"uote', 'back\\slash\\', 'ünï 😀', null, '1']
  const ints = [1, -2, 0, null, 2147483647]
  const bigs = ['9007199254740993', '1', null]
  const floats = [1.5, -0.25, 1e21, null, Number.NaN, Number.POSITIVE_INFINITY]
  const sql = 'SELECT $1::text[] AS text, $2::int4[] AS ints, $3::int8[] AS bigs, $4::float8[] AS floats, $5::text[] AS numbers_as_text, $6::bool[] AS bools'
  const params = [text, ints, bigs, floats, [1, 2.5], [true, false, null]]
  const [mine] = (await prepared.query<Record<string, unknown>>(sql, params)).rows
  const [theirs] = (await db.query<Record<string, unknown>>(sql, params)).rows
  t.same(mine, theirs, 'what PGlite query() answers')
  t.same(mine?.text, text, 'text as given, quotes, backslashes, NULL and empty strings included')
  t.same(mine?.ints, ints)
  t.same(mine?.floats, floats)
  t.same(mine?.numbers_as_text, ['1', '2.5'])
})

t.test('notifications sent by a prepared statement reach the listeners', async t => {
  const db = await openDb(t)
  const prepared = new PreparedQueries(db)
  const got: string[] = []
  await db.listen('work', payload => { got.push(payload) })
  await prepared.query(`SELECT pg_notify('work', $1)`, ['q1'])
  await prepared.query(`SELECT pg_notify('work', $1)`, ['q2'])
  await new Promise(resolve => setImmediate(resolve))
  t.same(got, ['q1', 'q2'])
})

t.test('errors keep their Postgres fields and leave the connection usable', async t => {
  const db = await openDb(t)
  const prepared = new PreparedQueries(db)
  const insert = `INSERT INTO items (name) VALUES ($1) RETURNING id`
  await prepared.query(insert, ['dup'])
  await t.rejects(prepared.query(insert, ['dup']), { code: '23505', constraint: 'items_name_key' }, 'a unique violation, as from query()')
  await t.rejects(prepared.query('SELEC 1', []), { code: '42601' }, 'a syntax error is thrown, nothing cached')
  t.same((await prepared.query<{ n: number }>('SELECT count(*)::int AS n FROM items', [])).rows, [{ n: 1 }], 'the failed insert left nothing, the next statement runs')
  t.equal(db.isInTransaction(), false, 'no transaction left open')
})

t.test('a prepared statement dropped or made stale is prepared again', async t => {
  const db = await openDb(t)
  const prepared = new PreparedQueries(db)
  const read = 'SELECT * FROM items WHERE n IS DISTINCT FROM $1'
  await prepared.query(`INSERT INTO items (name, n) VALUES ($1, $2)`, ['x', 1])
  t.equal((await prepared.query(read, [0])).rows.length, 1)
  await db.exec('DEALLOCATE ALL')
  t.equal((await prepared.query(read, [0])).rows.length, 1, 'after DEALLOCATE ALL')
  await db.exec('ALTER TABLE items ADD COLUMN extra text')
  const after = await prepared.query<Record<string, unknown>>(read, [0])
  t.ok('extra' in (after.rows[0] ?? {}), 'a new column shows: the statement was prepared again')
})

t.test('the cache is bounded: the least recently used statements are closed', async t => {
  const db = await openDb(t)
  const prepared = new PreparedQueries(db, 3)
  for (let i = 0; i < 10; i++) {
    const [row] = (await prepared.query<{ v: number }>(`SELECT $1::int + ${i} AS v`, [1])).rows
    t.equal(row?.v, 1 + i)
  }
  const { rows } = await prepared.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_prepared_statements`, [])
  t.ok((rows[0]?.n ?? 99) <= 4, `at most the bound (3) and the one being prepared are kept (${rows[0]?.n})`)
})
