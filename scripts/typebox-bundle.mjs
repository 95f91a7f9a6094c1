// Preloaded into every test process (tap's node-arg): `typebox` and its subpaths load
// from one esbuild bundle of the installed package instead of its ~680 separate
// modules. On Node 20 every module a test process loads is resolved and loaded on the
// module-hooks thread (tsx, tap's mock and process tracker each register hooks), and
// that round trip per module made importing typebox cost about 1 s of CPU in every
// test process that imports the workspace; the bundle costs about a tenth of that.
// The code is typebox's own, unchanged: only how it is split into files differs.
// Processes tests spawn on the sources get it too (scripts/workspace-sources.mjs);
// those on dist/, outside applications and the product itself load the package as
// installed.
//
// The bundle is built once per typebox and esbuild version (esbuild is tsx's own
// dependency: the loader the tests run on already needs it) under node_modules/.cache,
// so a fresh install builds it again. Concurrent test processes each build into their
// own directory and the first rename wins. When the bundle cannot be built, the test
// processes load the package as installed and this says why on stderr.
import { readFileSync, existsSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire, register } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

// Part of the cache key: change it when the build options below change.
const BUILD_FORMAT = 1

const workspace = dirname(dirname(fileURLToPath(import.meta.url)))

function packageRoot (entryPath, name) {
  for (let dir = dirname(entryPath); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === name) return dir
  }
  throw new Error(`no package.json named ${name} above ${entryPath}`)
}

async function bundle () {
  const typeboxRoot = packageRoot(fileURLToPath(import.meta.resolve('typebox')), 'typebox')
  const typebox = JSON.parse(readFileSync(join(typeboxRoot, 'package.json'), 'utf8'))
  const esbuild = createRequire(fileURLToPath(import.meta.resolve('tsx')))('esbuild')
  const dir = join(workspace, 'node_modules', '.cache', 'switchyard-test',
    `typebox-${typebox.version}-esbuild-${esbuild.version}-${BUILD_FORMAT}`)
  // Every subpath the package exports ('.', './value', './compile', ...) is an entry
  // of the same build, so they share one copy of typebox's internals (its format and
  // locale registries are module state) exactly as the separate modules do.
  const subpaths = Object.keys(typebox.exports ?? { '.': null })
  const entries = subpaths.map((subpath) => {
    const name = subpath.replace(/^\.\/?/, '')
    return { specifier: name === '' ? 'typebox' : `typebox/${name}`, out: name === '' ? 'index' : name.replaceAll('/', '-') }
  })
  if (!existsSync(join(dir, 'complete'))) {
    const building = `${dir}.${process.pid}`
    rmSync(building, { recursive: true, force: true })
    await esbuild.build({
      entryPoints: entries.map(({ specifier, out }) => ({ in: fileURLToPath(import.meta.resolve(specifier)), out })),
      outdir: building,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      // Names as written, so anything typebox reports by a function's or class's name
      // reads the same as from the package.
      keepNames: true,
      logLevel: 'silent',
    })
    // Written last: a directory without it is a build that did not finish.
    writeFileSync(join(building, 'complete'), '')
    try {
      renameSync(building, dir)
    } catch (error) {
      // Another test process finished first: its bundle is the same build.
      rmSync(building, { recursive: true, force: true })
      if (!existsSync(join(dir, 'complete'))) throw error
    }
  }
  return Object.fromEntries(entries.map(({ specifier, out }) => [specifier, pathToFileURL(join(dir, `${out}.mjs`)).href]))
}

// Only in the workspace's own processes (the source condition says so): a process a
// test runs as an outside application keeps its own typebox, even if this preload
// reached it through NODE_OPTIONS.
const inWorkspace = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some(option => option.includes('switchyard-source'))

async function useBundle () {
  try {
    const urls = await bundle()
    register(new URL('./typebox-bundle-hook.mjs', import.meta.url), { data: { urls } })
  } catch (error) {
    process.stderr.write(`typebox loads as installed in this process (its bundle could not be built: ${error instanceof Error ? error.message : String(error)})\n`)
  }
}

if (inWorkspace) await useBundle()
