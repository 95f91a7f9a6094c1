// Preloaded into every test process (tap's node-arg). Tests import the workspace
// packages through their "switchyard-source" export condition (the TypeScript
// sources, through tsx); this passes the same condition and loader on, through
// NODE_OPTIONS, to the processes tests spawn (the switchyard bin, worker fixtures),
// so no test ever runs a stale dist/.
const tsx = import.meta.resolve('tsx')
const inherited = ['--conditions=switchyard-source', `--import=${tsx}`]
const current = process.env.NODE_OPTIONS ?? ''
process.env.NODE_OPTIONS = [current, ...inherited.filter(option => !current.includes(option))].filter(Boolean).join(' ').trim()
