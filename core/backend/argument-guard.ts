import { ARGUMENT_CHECKS } from './arguments.ts'
import { unguardedBackend } from './guard.ts'
import type { Backend } from './types.ts'

// The argument rules of the backend contract, applied once around the seam (like
// withTimeouts): the hook registry wraps every backend it hands out, so core, plugins
// and third-party backends alike only ever see calls that passed core/backend/arguments.ts.
// A refused call rejects with VALIDATION_FAILED before the backend is touched.

const checked = new WeakSet<Backend>()

/** true when calls to `backend` (or the backend a withTimeouts guard wraps) are argument-checked */
export function hasArgumentChecks (backend: Backend): boolean {
  return checked.has(backend) || checked.has(unguardedBackend(backend))
}

export function withArgumentChecks (backend: Backend): Backend {
  if (hasArgumentChecks(backend)) return backend
  // one wrapper per method, made on first use: a get is a map lookup, not a new closure
  const wrappers = new Map<string, unknown>()
  const guarded = new Proxy(backend, {
    get (target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof prop !== 'string' || typeof value !== 'function') return value
      const check = ARGUMENT_CHECKS[prop]
      if (check === undefined) return value
      let wrapper = wrappers.get(prop)
      if (wrapper === undefined) {
        const method = value as (...args: unknown[]) => Promise<unknown>
        wrapper = async (...args: unknown[]): Promise<unknown> => {
          check(args)
          return await method.apply(target, args)
        }
        wrappers.set(prop, wrapper)
      }
      return wrapper
    }
  })
  checked.add(guarded)
  return guarded
}
