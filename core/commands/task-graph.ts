// `switchyard task graph <id>`: GetTaskGraph, as the task's parents and children per
// node for people, or the nodes and edges as JSON.
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import { emit, table } from './format.ts'
import type { CommandInput } from './spec.ts'
import { optionalInteger } from './values.ts'
import { withAdmin } from './with-admin.ts'

export function formatTaskGraph (graph: ResponseOf<'GetTaskGraph'>): string {
  const parents = new Map<string, string[]>()
  const children = new Map<string, string[]>()
  for (const edge of graph.edges) {
    parents.set(edge.child, [...(parents.get(edge.child) ?? []), edge.parent])
    children.set(edge.parent, [...(children.get(edge.parent) ?? []), edge.child])
  }
  const rows = graph.nodes.map(node => [
    node.id === graph.id ? `${node.id} *` : node.id, node.state, node.queue, node.handler,
    (parents.get(node.id) ?? []).join(','), (children.get(node.id) ?? []).join(',')
  ])
  const note = graph.truncated ? '\n(truncated: raise --depth or --limit to see more)' : ''
  return `${table(['ID', 'STATE', 'QUEUE', 'HANDLER', 'PARENTS', 'CHILDREN'], rows)}\n${graph.nodes.length} tasks, ${graph.edges.length} links (* the task asked about)${note}`
}

export async function runTaskGraph (input: CommandInput): Promise<number> {
  const request: RequestOf<'GetTaskGraph'> = { id: input.positionals[0] as string }
  const depth = optionalInteger(input.values, 'depth', 1, 20)
  if (depth !== undefined) request.depth = depth
  const limit = optionalInteger(input.values, 'limit', 1, 1000)
  if (limit !== undefined) request.limit = limit
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('GetTaskGraph', request)
    emit(input, result, () => formatTaskGraph(result))
  })
}
