import { defineError, Errors } from '@switchyard/core'

export const EventStoreErrors = {
  closed: defineError('EVENT_STORE_CLOSED'),
  /** another live process holds the directory's writer lock */
  locked: defineError('EVENT_STORE_LOCKED'),
  invalid: Errors.validation
} as const
