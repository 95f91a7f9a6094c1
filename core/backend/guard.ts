import { Errors, isSwitchyardError } from '../errors.ts'
import type { Backend } from './types.ts'

// Every backend call is bounded: a backend that stops answering must surface as
// BACKEND_TIMEOUT (503) to callers instead of hanging a request or a worker loop.
// Connection-level failures become BACKEND_UNAVAILABLE so callers see one code.

// watchCascades registers a listener: synchronous, no backend call
const PASS_THROUGH = new Set(['name', 'capabilities', 'close', 'watchCascades'])
const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'])

// The backend each guard wraps, so guarding an already guarded backend (the app
// bounds its calls, and so do the worker and the admin service it hands the backend
// to) replaces the bound instead of stacking a second proxy and timer on every call.
const unguarded = new WeakMap<Backend, Backend>()

/** the backend a withTimeouts guard wraps (the backend itself when it is not one) */
export function unguardedBackend (backend: Backend): Backend {
  return unguarded.get(backend) ?? backend
}

export function withTimeouts (backend: Backend, timeoutMs: number): Backend {
  const target = unguarded.get(backend) ?? backend
  const guarded = new Proxy(target, {
    get (target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof prop !== 'string' || PASS_THROUGH.has(prop) || typeof value !== 'function') return value
      return (...args: unknown[]) => bounded(prop, () => value.apply(target, args), timeoutMs)
    }
  })
  unguarded.set(guarded, target)
  return guarded
}

// One promise settled by whichever comes first, not Promise.race over a timeout promise:
// every backend call passes here, and the race allocated about twice as much per call.
function bounded<T> (method: string, call: () => Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(Errors.backendTimeout(`backend call ${method} did not answer within ${timeoutMs} ms`, { details: { method, timeoutMs } })), timeoutMs)
    const settle = (err: unknown): void => { clearTimeout(timer); reject(connectionFailure(method, err)) }
    let work: Promise<T>
    try {
      work = Promise.resolve(call())
    } catch (err) {
      settle(err)
      return
    }
    work.then((value) => { clearTimeout(timer); resolve(value) }, settle)
  })
}

/** a connection-level failure as BACKEND_UNAVAILABLE; Switchyard errors and anything else unchanged */
function connectionFailure (method: string, err: unknown): unknown {
  if (isSwitchyardError(err)) return err
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && CONNECTION_ERRORS.has(code)) {
    return Errors.backendUnavailable(`backend call ${method} failed: ${(err as Error).message}`, { cause: err, details: { method } })
  }
  return err
}
