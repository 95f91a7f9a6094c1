// The console's pages, in navigation order, with their `g <key>` shortcut.
export const PAGES = [
  { id: 'overview', title: 'Overview', key: 'o' },
  { id: 'queues', title: 'Queues', key: 'q' },
  { id: 'tasks', title: 'Tasks', key: 't' },
  { id: 'dlq', title: 'DLQ', key: 'd' },
  { id: 'schedules', title: 'Schedules', key: 's' },
  { id: 'jobs', title: 'Jobs', key: 'j' },
  { id: 'workers', title: 'Workers', key: 'w' },
  { id: 'rate-limits', title: 'Rate limits', key: 'r' },
  { id: 'audit', title: 'Audit', key: 'a' },
  { id: 'settings', title: 'Settings', key: 'e' },
  { id: 'docs', title: 'Docs', key: 'h' }
] as const

export type PageId = typeof PAGES[number]['id']
