import { Type, type Static } from 'typebox'

// The console's settings live in the config's `console` section (so the embedded
// default and env overrides reach them); the plugin's own options only say where the
// built app is.
export const AdminConsoleOptionsSchema = Type.Object({
  assetsDir: Type.Optional(Type.String({ minLength: 1, description: 'Directory of the built app (default: the package\'s dist-app/); relative to the config file' }))
}, { additionalProperties: false })

export type AdminConsoleOptions = Static<typeof AdminConsoleOptionsSchema>
