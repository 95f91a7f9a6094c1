import type { Backend } from '@switchyard/core'

// Backends are loaded by package name at run time so a missing or broken package
// fails the benchmark with one clear message instead of a module-resolution trace.

export type BackendFactory<O> = (options: O) => Backend

export async function loadBackendFactory<O> (pkg: string, exportName: string): Promise<BackendFactory<O>> {
  let mod: Record<string, unknown>
  try {
    mod = await import(pkg) as Record<string, unknown>
  } catch (err) {
    throw new Error(`backend package ${pkg} could not be loaded (${(err as Error).message}); it must be installed in the workspace and export ${exportName}()`)
  }
  const factory = mod[exportName]
  if (typeof factory !== 'function') throw new Error(`backend package ${pkg} does not export ${exportName}()`)
  return factory as BackendFactory<O>
}
