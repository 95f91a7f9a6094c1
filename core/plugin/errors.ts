import { defineError } from '../errors.ts'

// Start-up failures of the plugin system; each message is one line naming the plugin(s).
export const PluginErrors = {
  notFound: defineError('PLUGIN_NOT_FOUND', 500),
  invalid: defineError('PLUGIN_INVALID', 500),
  duplicate: defineError('PLUGIN_DUPLICATE', 500),
  dependencyMissing: defineError('PLUGIN_DEPENDENCY_MISSING', 500),
  dependencyCycle: defineError('PLUGIN_DEPENDENCY_CYCLE', 500),
  optionsInvalid: defineError('PLUGIN_OPTIONS_INVALID', 500),
  registerTimeout: defineError('PLUGIN_REGISTER_TIMEOUT', 500),
  hookDuplicate: defineError('HOOK_DUPLICATE', 500),
  hookNotFound: defineError('HOOK_NOT_FOUND', 500)
} as const
