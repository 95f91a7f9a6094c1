export * from './types.ts'
export * from './records.ts'
