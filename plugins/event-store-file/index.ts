// @switchyard/event-store-file: job events in append-only JSONL segment files.
export { FileEventStore, createFileEventStore, STORE_NAME, MAX_READ_LIMIT, type FileEventStoreOptions } from './store.ts'
export { FileEventStoreOptionsSchema, type FileEventStorePluginOptions } from './options.ts'
export { EventStoreErrors } from './errors.ts'
export { LOCK_FILE } from './lock.ts'
export { default } from './plugin.ts'
