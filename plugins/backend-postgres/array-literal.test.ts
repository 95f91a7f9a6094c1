// The pg client's own array literal (arrayLiteral) must be exactly what node-postgres
// writes for the arrays it takes over, and leave every other array to node-postgres.
import { createRequire } from 'node:module'
import t from 'tap'
import { arrayLiteral } from './pg-client.ts'

const pgUtils = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue: (v: unknown) => unknown }

t.test('the same literal as node-postgres for strings, numbers and nulls', async t => {
  const cases: unknown[][] = [
    [],
    ['bench', 'noop'],
    ['{"i":1}', '{"s":"a\\\\b\\"c"}', 'back\\slash', 'quote"', '', ' spaced ', 'NULL', 'null', '{', '}', ',', 'é✓'],
    [3, 0, -0, 1.5, -2, 1e21, 1e-7, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER],
    [null, undefined, 'x', 1, null],
    Array.from({ length: 1000 }, (_, i) => JSON.stringify({ i, t: 'x"y\\z' })),
    new Array(3) // holes read as undefined
  ]
  for (const values of cases) t.equal(arrayLiteral(values), pgUtils.prepareValue(values), JSON.stringify(values).slice(0, 60))
})

t.test('any other element: left to node-postgres', async t => {
  for (const values of [[true], [[1, 2]], [new Date(0)], [Buffer.from('a')], [{ a: 1 }], [1n], ['a', false]]) {
    t.equal(arrayLiteral(values), null, String(values))
  }
})
