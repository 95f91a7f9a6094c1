import t from 'tap'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { activeConditions, locatePluginModule } from './locate.ts'

t.test('the active export conditions are Node.js defaults plus --conditions / -C', async t => {
  t.same([...activeConditions([], '')], ['import', 'node', 'default'])
  t.ok(activeConditions(['--conditions=switchyard-source'], '').has('switchyard-source'))
  t.ok(activeConditions([], '--import x -C my-cond').has('my-cond'), 'NODE_OPTIONS, separate value')
  t.ok(activeConditions(['--conditions', 'a'], '-C=b').has('b'))
})

t.test('a package is imported through the first matching "exports" condition, in the order the package lists them', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-locate-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const pkg = join(dir, 'node_modules', 'sy-locate-order')
  await mkdir(pkg, { recursive: true })
  await writeFile(join(pkg, 'package.json'), JSON.stringify({
    name: 'sy-locate-order',
    type: 'module',
    exports: { '.': { 'not-active': './inactive.js', types: './types.d.ts', default: './picked.js', import: './too-late.js' } }
  }))
  await writeFile(join(pkg, 'picked.js'), 'export const which = "picked"\n')
  await writeFile(join(pkg, 'too-late.js'), 'export const which = "too-late"\n')
  const located = await locatePluginModule('sy-locate-order', dir)
  t.equal(located.from, join(pkg, 'picked.js'))
  t.equal(located.module.which, 'picked')
})
