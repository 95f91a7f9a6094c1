import { defineError } from '../errors.ts'
import { formatProblem, type Problem } from './paths.ts'

/** Raised for every configuration failure: unreadable file, invalid values, conflicting settings. */
export const ConfigError = defineError('CONFIG_INVALID')

/**
 * One error listing every problem, so a single run shows them all. The first line
 * names the first problem (a log or terminal that shows one line still says what is
 * wrong); the others follow, one `<path>: <reason>` per line.
 */
export function configProblemsError (where: string, problems: readonly Problem[]) {
  const lines = problems.map(formatProblem)
  const [first, ...rest] = lines
  const more = rest.length === 0 ? '' : ` (and ${rest.length} more problem${rest.length === 1 ? '' : 's'})`
  const head = `invalid configuration (${where}): ${first ?? 'no details'}${more}`
  return ConfigError([head, ...rest.map(line => `  ${line}`)].join('\n'), { details: { problems: lines } })
}
