import { Errors, FINAL_STATES, MAX_LIST_LIMIT, TASK_STATES, type FinalState, type TaskState } from 'switchyard'

// Bad input is refused before it reaches Redis, with the field named.

export function int (field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw Errors.validation(`${field}: must be an integer from ${min} to ${max}`, { details: { field } })
  }
  return value
}

export function limit (field: string, value: unknown): number {
  return Math.min(int(field, value, 0, Number.MAX_SAFE_INTEGER), MAX_LIST_LIMIT)
}

export function name (field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 255) {
    throw Errors.validation(`${field}: must be a string of 1-255 characters`, { details: { field } })
  }
  return value
}

export function ids (field: string, value: unknown, max: number): string[] {
  if (!Array.isArray(value) || value.length > max) {
    throw Errors.validation(`${field}: must be an array of at most ${max} ids`, { details: { field } })
  }
  return value.map((v, i) => name(`${field}[${i}]`, v))
}

export function state (field: string, value: unknown): TaskState {
  if (!TASK_STATES.includes(value as TaskState)) {
    throw Errors.validation(`${field}: must be one of ${TASK_STATES.join(', ')}`, { details: { field } })
  }
  return value as TaskState
}

export function finalState (field: string, value: unknown): FinalState {
  if (!FINAL_STATES.includes(value as FinalState)) {
    throw Errors.validation(`${field}: must be one of ${FINAL_STATES.join(', ')}`, { details: { field } })
  }
  return value as FinalState
}

export function states (field: string, value: unknown): TaskState[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw Errors.validation(`${field}: must be a non-empty array of task states`, { details: { field } })
  }
  return value.map((v, i) => state(`${field}[${i}]`, v))
}
