// What went wrong when a module named in the config (a handler module, a plugin by
// path) does not load. The installed switchyard runs JavaScript on plain Node.js, so
// a TypeScript file fails with Node's ERR_UNKNOWN_FILE_EXTENSION (or, where Node.js
// strips types itself, on syntax it cannot strip); that case is answered with what
// to do instead of Node's message.

const TYPESCRIPT_FILE = /\.[cm]?tsx?$/i
const TYPESCRIPT_LOAD_ERRORS = new Set(['ERR_UNKNOWN_FILE_EXTENSION', 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX', 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING'])

function firstLine (err: unknown): string {
  return ((err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '').trim()
}

/** true when `err` is Node.js refusing to load the TypeScript file `file` */
export function isTypeScriptLoadFailure (file: string, err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null | undefined)?.code
  return TYPESCRIPT_FILE.test(file) && code !== undefined && TYPESCRIPT_LOAD_ERRORS.has(code)
}

/** One line saying why `file` did not load (and, for TypeScript, what to do). */
export function importFailureMessage (file: string, err: unknown): string {
  if (isTypeScriptLoadFailure(file, err)) {
    return `${file} is TypeScript, which this Node.js does not run: compile it and name the .js file, ` +
      'or start Switchyard with a TypeScript loader (npm install tsx, then NODE_OPTIONS="--import tsx")'
  }
  return firstLine(err)
}
