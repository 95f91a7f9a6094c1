export * from './types.ts'
export * from './records.ts'
export * from './results.ts'
export * from './time-window.ts'
