import { defineError } from '../errors.ts'

// Start-up failures of the plugin system; each message is one line naming the plugin(s).
export const PluginErrors = {
  notFound: defineError('PLUGIN_NOT_FOUND'),
  invalid: defineError('PLUGIN_INVALID'),
  duplicate: defineError('PLUGIN_DUPLICATE'),
  dependencyMissing: defineError('PLUGIN_DEPENDENCY_MISSING'),
  dependencyCycle: defineError('PLUGIN_DEPENDENCY_CYCLE'),
  optionsInvalid: defineError('PLUGIN_OPTIONS_INVALID'),
  registerTimeout: defineError('PLUGIN_REGISTER_TIMEOUT'),
  hookDuplicate: defineError('HOOK_DUPLICATE'),
  hookNotFound: defineError('HOOK_NOT_FOUND')
} as const
