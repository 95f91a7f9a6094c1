// The HTTP client loads only the route table; the RPC table takes each RPC's route
// from it. Both must name the same RPCs, and each RPC must carry its own route.
import t from 'tap'
import { HTTP_ROUTES } from './routes.ts'
import { RPCS } from './rpcs.ts'

t.test('every RPC has its route and every route is an RPC\'s', async (t) => {
  t.strictSame(Object.keys(HTTP_ROUTES).sort(), Object.keys(RPCS).sort())
  for (const [name, def] of Object.entries(RPCS)) {
    t.equal(def.name, name, `${name}: named by its key`)
    t.equal(def.http, HTTP_ROUTES[name as keyof typeof HTTP_ROUTES], `${name}: its route is the route table's entry`)
  }
})

t.test('the route table loads without the message schemas', async (t) => {
  const { readFile } = await import('node:fs/promises')
  const source = await readFile(new URL('./routes.ts', import.meta.url), 'utf8')
  t.notMatch(source, /^import (?!type )/m, 'routes.ts has no run-time imports')
})
