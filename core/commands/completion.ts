// `switchyard completion bash|zsh`: completion scripts generated from the command
// table, so every command, subcommand, flag and fixed flag value completes without a
// hand-kept list. Both scripts walk the words typed so far to find the command, then
// propose its subcommands, its flags (after a dash) or the values of the flag before
// the cursor.
import type { CommandSpec, FlagSpec } from './spec.ts'
import { COMMANDS, GLOBAL_FLAGS, commandNames, flagsOf } from './table.ts'
import type { CommandInput } from './spec.ts'
import { UsageError } from './usage.ts'

interface Node {
  /** the words leading here, joined by spaces ('' is the root) */
  path: string
  /** next words, with the summary of the command they name (or of their group) */
  subs: Map<string, string>
  /** the command these words run, if any */
  spec?: CommandSpec
}

const FILE = '<file>'

function tree (): Map<string, Node> {
  const nodes = new Map<string, Node>()
  const node = (path: string): Node => {
    let n = nodes.get(path)
    if (n === undefined) { n = { path, subs: new Map() }; nodes.set(path, n) }
    return n
  }
  node('')
  for (const spec of COMMANDS) {
    for (const words of commandNames(spec)) {
      for (let i = 0; i < words.length; i++) {
        const parent = node(words.slice(0, i).join(' '))
        const word = words[i] as string
        const isLeaf = i === words.length - 1
        if (isLeaf || !parent.subs.has(word)) parent.subs.set(word, isLeaf ? spec.summary : `${words.slice(0, i + 1).join(' ')} commands`)
      }
      node(words.join(' ')).spec = spec
    }
  }
  return nodes
}

function flagsAt (n: Node): Readonly<Record<string, FlagSpec>> {
  return n.spec === undefined ? { help: GLOBAL_FLAGS.help as FlagSpec, ...(n.path === '' ? { version: { type: 'boolean', description: 'print the version and exit' } as FlagSpec } : {}) } : flagsOf(n.spec)
}

function flagTokens (name: string, flag: FlagSpec): string[] {
  return [`--${name}`, ...(flag.short === undefined ? [] : [`-${flag.short}`])]
}

function valueWords (flag: FlagSpec): string {
  if (flag.complete === 'file') return FILE
  return (flag.complete ?? []).join(' ')
}

function shQuote (text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`
}

/** shell functions both scripts share: plain `case` tables over the command path */
function dataFunctions (nodes: Map<string, Node>): string {
  const subs: string[] = []
  const subDescs: string[] = []
  const flags: string[] = []
  const flagDescs: string[] = []
  const values: string[] = []
  const args: string[] = []
  const valueFlags = new Set<string>()
  for (const n of nodes.values()) {
    const key = shQuote(n.path)
    if (n.subs.size > 0) {
      subs.push(`    ${key}) echo ${shQuote([...n.subs.keys()].join(' '))} ;;`)
      subDescs.push(`    ${key}) printf '%s\\n' ${[...n.subs].map(([w, d]) => shQuote(`${w}:${d}`)).join(' ')} ;;`)
    }
    const table = flagsAt(n)
    flags.push(`    ${key}) echo ${shQuote(Object.entries(table).flatMap(([name, f]) => flagTokens(name, f)).join(' '))} ;;`)
    flagDescs.push(`    ${key}) printf '%s\\n' ${Object.entries(table).map(([name, f]) => shQuote(`--${name}:${f.description.replace(/\n/g, ' ')}`)).join(' ')} ;;`)
    for (const [name, flag] of Object.entries(table)) {
      if (flag.type !== 'string') continue
      for (const token of flagTokens(name, flag)) {
        valueFlags.add(token)
        values.push(`    ${shQuote(`${n.path}|${token}`)}) echo ${shQuote(valueWords(flag))} ;;`)
      }
    }
    const argWords = (n.spec?.args ?? []).flatMap(a => a.complete ?? [])
    if (argWords.length > 0) args.push(`    ${key}) echo ${shQuote(argWords.join(' '))} ;;`)
  }
  const fn = (name: string, subject: string, cases: string[]): string =>
    `${name} () {\n  case "${subject}" in\n${cases.join('\n')}\n  esac\n}`
  return [
    `_switchyard_value_flags=${shQuote([...valueFlags].sort().join(' '))}`,
    fn('_switchyard_subs', '$1', subs),
    fn('_switchyard_sub_descs', '$1', subDescs),
    fn('_switchyard_flags', '$1', flags),
    fn('_switchyard_flag_descs', '$1', flagDescs),
    fn('_switchyard_values', '$1|$2', values),
    fn('_switchyard_args', '$1', args)
  ].join('\n\n')
}

/**
 * The walk over the typed words, as the dispatcher reads them: the command is the
 * leading words before the first flag; `cmdpath` ends as the longest one known.
 */
const WALK = `  local cmdpath="" w i
  for (( i=FIRST; i<LAST; i++ )); do
    w="\${WORDS[i]}"
    [[ "$w" == -* ]] && break
    case " $(_switchyard_subs "$cmdpath") " in *" $w "*) cmdpath="\${cmdpath:+$cmdpath }$w" ;; *) break ;; esac
  done`

export function bashScript (): string {
  return `# bash completion for switchyard (generated from its command table)
# Load it with: source <(switchyard completion bash)

${dataFunctions(tree())}

_switchyard_complete () {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev=""
  (( COMP_CWORD > 0 )) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
${WALK.replace('FIRST', '1').replace('LAST', 'COMP_CWORD').replace('WORDS', 'COMP_WORDS')}
  if [[ "$prev" == -* && " $_switchyard_value_flags " == *" $prev "* ]]; then
    local values="$(_switchyard_values "$cmdpath" "$prev")"
    if [[ "$values" == '${FILE}' ]]; then COMPREPLY=( $(compgen -f -- "$cur") ); else COMPREPLY=( $(compgen -W "$values" -- "$cur") ); fi
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$(_switchyard_flags "$cmdpath")" -- "$cur") )
  else
    COMPREPLY=( $(compgen -W "$(_switchyard_subs "$cmdpath") $(_switchyard_args "$cmdpath")" -- "$cur") )
  fi
  return 0
}

complete -F _switchyard_complete switchyard
`
}

export function zshScript (): string {
  return `#compdef switchyard
# zsh completion for switchyard (generated from its command table)
# Load it with: source <(switchyard completion zsh)   (after compinit)

${dataFunctions(tree())}

_switchyard () {
  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}"
${WALK.replace('FIRST', '2').replace('LAST', 'CURRENT').replace('WORDS', 'words')}
  if [[ "$prev" == -* && " $_switchyard_value_flags " == *" $prev "* ]]; then
    local values="$(_switchyard_values "$cmdpath" "$prev")"
    if [[ "$values" == '${FILE}' ]]; then _files; elif [[ -n "$values" ]]; then compadd -- \${=values}; fi
    return
  fi
  local -a described
  if [[ "$cur" == -* ]]; then
    described=( \${(f)"$(_switchyard_flag_descs "$cmdpath")"} )
    _describe -t options 'option' described
  else
    described=( \${(f)"$(_switchyard_sub_descs "$cmdpath")"} )
    local args="$(_switchyard_args "$cmdpath")"
    [[ -n "$args" ]] && compadd -- \${=args}
    (( \${#described} )) && _describe -t commands 'command' described
  fi
}

if (( $+functions[compdef] )); then compdef _switchyard switchyard; fi
`
}

export async function runCompletion (input: CommandInput): Promise<number> {
  const shell = input.positionals[0]
  if (shell === 'bash') input.io.stdout.write(bashScript())
  else if (shell === 'zsh') input.io.stdout.write(zshScript())
  else throw new UsageError(`completion: "${shell ?? ''}" is not a supported shell (bash or zsh)`)
  return 0
}
