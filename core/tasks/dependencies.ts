import type { Backend, TaskLinks, TaskState } from '../backend/types.ts'

// The dependency graph around one task: its ancestors (parents, their parents, ...)
// and its descendants, walked level by level with one Backend.taskLinks call per level
// and direction, bounded in depth and in nodes so a wide fan-out cannot make one
// request read the whole store.

export const GRAPH_DEPTH_DEFAULT = 5
export const GRAPH_DEPTH_MAX = 20
export const GRAPH_NODES_DEFAULT = 200
export const GRAPH_NODES_MAX = 1000

export interface GraphNode {
  id: string
  queue: string
  handler: string
  state: TaskState
}

export interface GraphEdge {
  parent: string
  child: string
}

export interface TaskGraph {
  nodes: GraphNode[]
  edges: GraphEdge[]
  /** true when the depth or node bound left part of the graph out */
  truncated: boolean
}

export interface GraphBounds {
  maxDepth: number
  maxNodes: number
}

/** The graph around `id`, or null when no such task is stored. The root is the first node. */
export async function walkTaskGraph (backend: Backend, id: string, bounds: GraphBounds): Promise<TaskGraph | null> {
  const [root] = await backend.taskLinks([id])
  if (root === undefined) return null
  const nodes = new Map<string, TaskLinks>([[root.id, root]])
  const edges = new Map<string, GraphEdge>()
  let truncated = false
  const addEdge = (parent: string, child: string): void => { edges.set(`${parent}>${child}`, { parent, child }) }

  for (const direction of ['up', 'down'] as const) {
    let level = [root]
    for (let depth = 0; level.length > 0; depth++) {
      const next = new Set<string>()
      for (const node of level) {
        for (const other of direction === 'up' ? node.parents : node.children) {
          if (!nodes.has(other)) next.add(other)
          else if (direction === 'up') addEdge(other, node.id)
          else addEdge(node.id, other)
        }
      }
      if (next.size === 0) break
      if (depth >= bounds.maxDepth) { truncated = true; break }
      let wanted = [...next]
      const room = bounds.maxNodes - nodes.size
      if (wanted.length > room) { truncated = true; wanted = wanted.slice(0, Math.max(room, 0)) }
      if (wanted.length === 0) break
      const found = await backend.taskLinks(wanted)
      for (const links of found) nodes.set(links.id, links)
      // edges from this level to the nodes just found (a deleted task is simply missing)
      for (const node of level) {
        for (const other of direction === 'up' ? node.parents : node.children) {
          if (!nodes.has(other)) continue
          if (direction === 'up') addEdge(other, node.id)
          else addEdge(node.id, other)
        }
      }
      level = found
    }
  }
  // links between nodes reached by different paths (a diamond) are edges too
  for (const node of nodes.values()) {
    for (const parent of node.parents) if (nodes.has(parent)) addEdge(parent, node.id)
  }
  return {
    nodes: [...nodes.values()].map(n => ({ id: n.id, queue: n.queue, handler: n.handler, state: n.state })),
    edges: [...edges.values()],
    truncated
  }
}
