// Preloaded into every test process (tap's node-arg). Tests import the workspace
// packages through their "switchyard-source" export condition (the TypeScript
// sources, through tsx); this passes the same condition and loader on, through
// NODE_OPTIONS, to the processes tests spawn (the switchyard bin, worker fixtures),
// so no test ever runs a stale dist/. They also load typebox from its bundle
// (scripts/typebox-bundle.mjs), as the test processes themselves do.
const tsx = import.meta.resolve('tsx')
const typeboxBundle = new URL('./typebox-bundle.mjs', import.meta.url).href
const inherited = ['--conditions=switchyard-source', `--import=${tsx}`, `--import=${typeboxBundle}`]
const current = process.env.NODE_OPTIONS ?? ''
process.env.NODE_OPTIONS = [current, ...inherited.filter(option => !current.includes(option))].filter(Boolean).join(' ').trim()

// tap's process tracker (@tapjs/processinfo) adds its module loader to every process a
// test spawns, through a listener on process-on-spawn's shared registry. It records
// which files each process loaded, for coverage, which this workspace does not collect
// (package.json: disable-coverage). In a spawned `switchyard` it costs 0.5 to 1.4 s of
// CPU (every module load crosses to the loader thread and is read again), and the
// suite spawns some hundreds of them. A listener added after tap's takes it out again.
// Without the registry (another tap version) nothing changes: the tracker stays.
// A spawn whose env says SWITCHYARD_TEST_DIST=1 (test/support/bin-env.ts: a switchyard
// run from a current dist/) gets no options at all: tap's listener would otherwise
// put this process's loaders back into an empty NODE_OPTIONS.
const registry = globalThis[Symbol.for('process-on-spawn@*:singletonId')]
const TRACKER = /(^|\s)"?--(?:import|loader)=[^\s"]*@tapjs\/processinfo\/[^\s"]*"?(?=\s|$)/g
if (Array.isArray(registry?.listeners)) {
  registry.listeners.push((spawned) => {
    if (spawned.env?.SWITCHYARD_TEST_DIST === '1') {
      spawned.env = { ...spawned.env, NODE_OPTIONS: '' }
      return
    }
    const options = spawned.env?.NODE_OPTIONS
    if (typeof options === 'string' && options.includes('@tapjs/processinfo')) {
      spawned.env = { ...spawned.env, NODE_OPTIONS: options.replace(TRACKER, ' ').replace(/\s+/g, ' ').trim() }
    }
  })
}
