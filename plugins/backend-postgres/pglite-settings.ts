import { setFlagsFromString } from 'node:v8'

// How PGlite is started, wherever it runs (pglite-open.ts). Kept apart from the
// opening itself so that reading these does not load PGlite on the main thread.

/**
 * Server settings PGlite starts with, on top of its own start parameters. Postgres'
 * default shared_buffers (128MB) is sized for a server that owns the machine; inside
 * the process every buffer the engine touches stays resident in the wasm heap, which
 * made it the largest part of the embedded default's memory (about 150MB of wasm heap
 * resident with 128MB, 30MB with 16MB), and zeroing the pool was the largest part of
 * opening. Evicted pages are read back from the operating system's page cache (or
 * the in-memory file system), not the disk, so a small pool costs little: 16MB holds
 * the hot path's pages (the lease indexes, the pending tasks, the counters) many
 * times over.
 */
export const PGLITE_SERVER_SETTINGS: Readonly<Record<string, string>> = {
  shared_buffers: '16MB'
}

/**
 * How V8 compiles PGlite's WebAssembly (Postgres, about 9 MB of it). By default V8
 * starts every function on its baseline compiler (Liftoff) and recompiles the hot
 * ones with its optimizing compiler (TurboFan) on background threads. For PGlite that
 * recompilation competes with opening the database for the CPU (opening took about
 * twice as long on a busy two-core machine) and its code and compiler memory stay
 * resident (about 50 MB after ten minutes of the demo). Baseline code alone runs
 * queries slower: in the PGlite throughput benchmark (5,000 tasks) the first round
 * cost the same CPU per task (the recompilation is not free either), later rounds
 * about a quarter more than optimized code. The embedded default is for development
 * and small installations, where start-up and memory matter more, so baseline only
 * is the default; optimizeWasm asks for tiering up (a busy embedded worker).
 *
 * The setting is V8's (`--liftoff-only`) and so covers all WebAssembly the process
 * compiles from then on, in every thread; each client applies its own choice when
 * it opens.
 */
export function applyWasmTiering (optimize: boolean): void {
  setFlagsFromString(optimize ? '--no-liftoff-only' : '--liftoff-only')
}
