/** What every benchmark module returns; run.ts prints it as the final JSON line. */
export interface BenchResult {
  results: Record<string, unknown>
  /** peer comparisons; null when one side of the comparison did not run */
  ratios: Record<string, number | null>
}

export type BenchRun = (args: string[]) => Promise<BenchResult>
