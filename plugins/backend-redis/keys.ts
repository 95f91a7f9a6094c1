// Key layout (see README.md). Every key starts with `{prefix}` so the whole keyspace of
// one Switchyard deployment hashes to one Redis Cluster slot and multi-key scripts work.

export interface Keys {
  /** `{prefix}`: scripts build per-task and per-queue keys from it */
  base: string
  all: string
  seq: string
  leaseSeq: string
  idem: string
  queues: string
  weights: string
  paused: string
  globalPause: string
  processing: string
  dead: string
  succeeded: string
  canceled: string
  deadByHandler: string
  /** '1' once the pending counts (ph:<queue>) cover every task (lua/pending_rebuild.lua) */
  pendingCounted: string
  /** while they are rebuilt: the last task sequence counted */
  pendingCursor: string
  rate: string
  lockTokens: string
  lockNames: string
  workers: string
  events: string
  /** "entry-id count" per event log entry, oldest first, and the events they hold (lua/lib/events.lua) */
  eventIndex: string
  eventCount: string
  audit: string
  workChannel: string
  eventsChannel: string
  /** flow limits, running tasks per limited handler, rate windows (lua/lib/flow.lua) */
  flowLimits: string
  flowRunning: string
  flowWindows: string
  task: (id: string) => string
  lock: (name: string) => string
  worker: (id: string) => string
  /** an idle worker's push-delivery registration and its inbox (lua/lib/push.lua) */
  pushRegistration: (workerId: string) => string
  pushInbox: (workerId: string) => string
  /** hash key -> "version:updatedAt:json" of one record collection */
  records: (collection: string) => string
  /** the collection's keys in a zset (all scores 0) for ordered paging */
  recordIndex: (collection: string) => string
  claim: (key: string) => string
}

export function keysFor (prefix: string): Keys {
  const base = `{${prefix}}`
  return {
    base,
    all: `${base}all`,
    seq: `${base}seq`,
    leaseSeq: `${base}lseq`,
    idem: `${base}idem`,
    queues: `${base}queues`,
    weights: `${base}qw`,
    paused: `${base}qp`,
    globalPause: `${base}gpause`,
    processing: `${base}proc`,
    dead: `${base}dead`,
    succeeded: `${base}succ`,
    canceled: `${base}canc`,
    deadByHandler: `${base}dh`,
    pendingCounted: `${base}phv`,
    pendingCursor: `${base}phc`,
    rate: `${base}rl`,
    lockTokens: `${base}lockseq`,
    lockNames: `${base}locks`,
    workers: `${base}wk`,
    events: `${base}ev`,
    eventIndex: `${base}evx`,
    eventCount: `${base}evn`,
    audit: `${base}au`,
    workChannel: `${base}work`,
    eventsChannel: `${base}events`,
    flowLimits: `${base}fl`,
    flowRunning: `${base}fr`,
    flowWindows: `${base}fw`,
    task: (id) => `${base}t:${id}`,
    lock: (name) => `${base}lock:${name}`,
    worker: (id) => `${base}w:${id}`,
    pushRegistration: (id) => `${base}pw:${id}`,
    pushInbox: (id) => `${base}pb:${id}`,
    records: (collection) => `${base}rec:${collection}`,
    recordIndex: (collection) => `${base}reci:${collection}`,
    claim: (key) => `${base}claim:${key}`
  }
}
