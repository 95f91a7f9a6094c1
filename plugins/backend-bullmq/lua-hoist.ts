// Splits a BullMQ script into its top-level function definitions and the rest.
// Run per job inside a batch, a script re-creates every one of its local functions
// on each run (a closure per function, ~4 µs per job for moveToFinished); defined
// once outside the per-job function, they are created once per call. Only done when
// provably the same program: every definition may use nothing but its own
// parameters and locals, Lua's globals, rcall and the other definitions. Otherwise
// null, and the caller runs the script unchanged.

const KEYWORDS = new Set('and break do else elseif end false for function if in local nil not or repeat return then true until while'.split(' '))
const GLOBALS = new Set('redis cjson cmsgpack bit struct string math table tonumber tostring type unpack pairs ipairs next select error pcall assert KEYS ARGV'.split(' '))
/** a definition starts at column 0 and ends at the first "end" at column 0 */
const DEFINITION = /^local (?:function (\w+)\s*\(|(\w+) = function\s*\()/
const RCALL = /^local rcall = redis\.call\s*$/m

/** code with comments removed and string contents blanked */
function codeOnly (source: string): string {
  return source
    .replace(/--\[(=*)\[[\s\S]*?\]\1\]/g, ' ')
    .replace(/\[(=*)\[[\s\S]*?\]\1\]/g, '""')
    .replace(/--[^\n]*/g, ' ')
    .replace(/"(?:[^"\\\n]|\\.)*"/g, '""')
    .replace(/'(?:[^'\\\n]|\\.)*'/g, "''")
}

function names (list: string): string[] {
  return list.split(',').map(name => name.trim()).filter(name => name.length > 0)
}

/** identifiers a definition uses that it does not declare itself and that are not in `known` */
function freeNames (definition: string, known: Set<string>): string[] {
  const code = codeOnly(definition)
  const declared = new Set<string>()
  for (const m of code.matchAll(/\bfunction\s*[\w.:]*\s*\(([^)]*)\)/g)) for (const n of names(m[1] as string)) declared.add(n)
  for (const m of code.matchAll(/\blocal\s+(?!function)([\w\s,]+?)(?:=|\n|$)/g)) for (const n of names(m[1] as string)) declared.add(n)
  for (const m of code.matchAll(/\blocal\s+function\s+(\w+)/g)) declared.add(m[1] as string)
  for (const m of code.matchAll(/\bfor\s+([\w\s,]+?)\s+(?:in|=)/g)) for (const n of names(m[1] as string)) declared.add(n)
  const free: string[] = []
  for (const m of code.matchAll(/(?<![.:\w])([A-Za-z_]\w*)/g)) {
    const id = m[1] as string
    if (KEYWORDS.has(id) || GLOBALS.has(id) || declared.has(id) || known.has(id)) continue
    // a key in a table constructor ({ name = value }) is not a variable
    const isKey = /^\s*=(?!=)/.test(code.slice((m.index ?? 0) + id.length)) && /[{,]\s*$/.test(code.slice(0, m.index))
    if (!isKey) free.push(id)
  }
  return free
}

export interface HoistedScript {
  /** `local rcall` and the function definitions, in their original order */
  definitions: string
  /** everything else, in order: what runs per job */
  body: string
}

export function hoistDefinitions (content: string): HoistedScript | null {
  if (!RCALL.test(content)) return null
  const lines = content.split('\n')
  const definitions: string[] = []
  const defined: string[] = []
  const body: string[] = []
  for (let i = 0; i < lines.length; i++) {
    const head = DEFINITION.exec(lines[i] as string)
    if (head === null) {
      body.push(lines[i] as string)
      continue
    }
    let end = i
    while (end < lines.length && !/^end\b/.test(lines[end] as string)) end++
    if (end === lines.length) return null
    // a definition's inner lines are indented; anything else means the layout is not understood
    if (lines.slice(i + 1, end).some(line => /^\S/.test(line))) return null
    definitions.push(lines.slice(i, end + 1).join('\n'))
    defined.push((head[1] ?? head[2]) as string)
    i = end
  }
  const known = new Set([...defined, 'rcall'])
  if (definitions.some(definition => freeNames(definition, known).length > 0)) return null
  return { definitions: `local rcall = redis.call\n${definitions.join('\n')}`, body: body.join('\n') }
}
