// Registration order: every plugin after the plugins it depends on, otherwise in
// the order the config lists them (so the order is predictable and reviewable).
import { PluginErrors } from './errors.ts'

export interface OrderNode {
  name: string
  dependencies: readonly string[]
}

/** Names in the order they form a cycle, first name repeated at the end (a -> b -> a). */
function findCycle (remaining: ReadonlyMap<string, OrderNode>): string[] {
  const start = [...remaining.keys()][0] as string
  const path: string[] = []
  const seenAt = new Map<string, number>()
  let current = start
  // Every remaining node has an unresolved dependency that also remains, so this walk must revisit a node.
  while (!seenAt.has(current)) {
    seenAt.set(current, path.length)
    path.push(current)
    const node = remaining.get(current) as OrderNode
    current = node.dependencies.find(dep => remaining.has(dep)) as string
  }
  return [...path.slice(seenAt.get(current)), current]
}

/**
 * Topological order (Kahn) with ties broken by listing order. `available` names
 * plugins already registered on the app, which satisfy dependencies too.
 */
export function orderPlugins<T extends OrderNode> (nodes: readonly T[], available: (name: string) => boolean = () => false): T[] {
  const byName = new Map(nodes.map(node => [node.name, node]))
  for (const node of nodes) {
    const missing = node.dependencies.filter(dep => !byName.has(dep) && !available(dep))
    if (missing.length > 0) {
      throw PluginErrors.dependencyMissing(`plugin "${node.name}" depends on ${missing.map(dep => `"${dep}"`).join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not in the plugin list`, { details: { plugin: node.name, missing } })
    }
  }
  const ordered: T[] = []
  const placed = new Set<string>()
  const remaining = new Map(byName)
  while (remaining.size > 0) {
    const next = [...remaining.values()].find(node => node.dependencies.every(dep => placed.has(dep) || !byName.has(dep)))
    if (next === undefined) {
      const cycle = findCycle(remaining)
      throw PluginErrors.dependencyCycle(`plugins depend on each other in a cycle: ${cycle.join(' -> ')}`, { details: { cycle } })
    }
    ordered.push(next)
    placed.add(next.name)
    remaining.delete(next.name)
  }
  return ordered
}
