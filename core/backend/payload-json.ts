import type { NewTask } from './types.ts'

// Tasks normalizeNewTask built, with the JSON text it encoded their payload to (it
// needs the text to bound the payload's size). Two savings hang on it:
// - the argument guard does not walk their payload again (it was walked there, with
//   the field names the caller knows);
// - backends store that text (payloadJson) instead of encoding the payload a second
//   time, which for a large payload was half the enqueue's CPU in the client.
// Kept beside the task, not on it, so NewTask stays the plain contract type: a copy of
// the task, or a task from anywhere else, is simply not in here, and a backend that
// never calls payloadJson still gets the payload and works as before.
const encoded = new WeakMap<NewTask, { payload: unknown, json: string }>()

/** records that normalizeNewTask built `task` and encoded its payload to `json` */
export function markNormalized (task: NewTask, json: string): NewTask {
  encoded.set(task, { payload: task.payload, json })
  return task
}

/** true for a task normalizeNewTask built: its payload was walked there */
export function isNormalized (task: NewTask): boolean {
  return encoded.has(task)
}

/**
 * The task's payload as the JSON text to store: the text normalizeNewTask encoded
 * when it built the task (so it is not encoded twice), else JSON.stringify(payload)
 * (null for an absent payload). The same text either way, unless the payload was
 * changed in place after normalizing, which the guard does not see either: then the
 * text is of the payload that was validated. A payload replaced by another value is
 * encoded anew.
 */
export function payloadJson (task: NewTask): string {
  const known = encoded.get(task)
  if (known !== undefined && known.payload === task.payload) return known.json
  return JSON.stringify(task.payload ?? null)
}
