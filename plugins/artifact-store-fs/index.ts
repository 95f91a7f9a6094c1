// @switchyard/artifact-store-fs: job artifacts on a local directory.
export { FsArtifactStore, createFsArtifactStore, STORE_NAME, type FsArtifactStoreOptions } from './store.ts'
export { FsArtifactStoreOptionsSchema, type FsArtifactStorePluginOptions } from './options.ts'
export { ArtifactStoreErrors } from './errors.ts'
export { checkKey, checkContentType, MAX_KEY_LENGTH } from './keys.ts'
export { default } from './plugin.ts'
