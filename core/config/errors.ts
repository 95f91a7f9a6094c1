import { defineError } from '../errors.ts'
import { formatProblem, type Problem } from './problems.ts'

/** Raised for every configuration failure: unreadable file, invalid values, conflicting settings. */
export const ConfigError = defineError('CONFIG_INVALID')

/** One error listing every problem, one `<path>: <reason>` per line, so a single run shows them all. */
export function configProblemsError (where: string, problems: readonly Problem[]) {
  const lines = problems.map(formatProblem)
  return ConfigError(`invalid configuration (${where}):\n${lines.map(line => `  ${line}`).join('\n')}`, { details: { problems: lines } })
}
