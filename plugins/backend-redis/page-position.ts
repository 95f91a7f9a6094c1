import { Errors } from '@switchyard/core'

// A listTasks page position (TaskPage.next / ListTasksRequest.after): the (score, id)
// of the last task of a page in the merged order of the indexes list.lua reads.
// Scores are integers below 2^53 (common.lua), ids the task ids.

export interface PagePosition { score: string, id: string }

const POSITION = /^(-?[0-9]{1,16})\.([A-Za-z0-9_.:-]{1,128})$/

export function formatPosition (position: PagePosition): string {
  return `${position.score}.${position.id}`
}

/** reads a position; anything else is refused naming `cursor` */
export function parsePosition (text: string): PagePosition {
  const match = POSITION.exec(text)
  if (match === null) throw Errors.validation('cursor: not a position of this task list (pass nextCursor back unchanged)', { details: { field: 'cursor' } })
  return { score: match[1] as string, id: match[2] as string }
}
