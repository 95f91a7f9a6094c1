// Public API of the switchyard package.
export * from './errors.ts'
export * from './backend/index.ts'
