// Array.prototype.sort allocates its own work state (about 1 KB) even for a list that is
// already in order, and the lists an overview sorts (queues by name, pending handler
// pairs) usually come from the backend in order already: one pass checks first.

/** sorts `list` in place by `compare`, unless it is in that order already; answers `list` */
export function sortUnlessSorted<T> (list: T[], compare: (a: T, b: T) => number): T[] {
  for (let i = 1; i < list.length; i++) {
    if (compare(list[i - 1]!, list[i]!) > 0) return list.sort(compare)
  }
  return list
}
