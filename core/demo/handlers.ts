// Demo handlers for the embedded default, so a fresh `switchyard start` shows real
// movement in every state: quick successes, slow tasks, retries and dead letters.

export class DemoFailure extends Error {
  constructor (message = 'demo failure: the "fail" handler always throws') {
    super(message)
    this.name = 'DemoFailure'
  }
}

export const demoHandlers = {
  noop: async (): Promise<{ ok: true }> => ({ ok: true }),
  sleep: async (payload: { ms?: unknown } | null, ctx: { signal: AbortSignal }): Promise<{ slept: number }> => {
    const requested = typeof payload?.ms === 'number' && payload.ms >= 0 ? payload.ms : 250
    const ms = Math.min(requested, 60_000)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms)
      ctx.signal.addEventListener('abort', () => { clearTimeout(timer); reject(ctx.signal.reason ?? new Error('aborted')) }, { once: true })
    })
    return { slept: ms }
  },
  fail: async (): Promise<never> => { throw new DemoFailure() }
}

export const DEMO_HANDLER_NAMES = Object.keys(demoHandlers)
