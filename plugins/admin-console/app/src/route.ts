// The page and its state live in the URL hash (#/tasks?state=dead&id=...), so a reload
// or a shared link shows the same view whatever path the console server is mounted at.
import { useCallback, useEffect, useState } from 'react'
import { parseHash, type Route } from './hash.ts'

export { parseHash, type Route } from './hash.ts'

export function hrefFor (page: string, params: Record<string, string | number | undefined | null> = {}): string {
  const qs = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v))
  const s = qs.toString()
  return `#/${page}${s === '' ? '' : `?${s}`}`
}

export function navigate (href: string, replace = false): void {
  if (replace) history.replaceState(null, '', href)
  else history.pushState(null, '', href)
  window.dispatchEvent(new HashChangeEvent('hashchange'))
}

export function useRoute (): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash))
  useEffect(() => {
    const update = (): void => setRoute(parseHash(location.hash))
    window.addEventListener('hashchange', update)
    window.addEventListener('popstate', update)
    return () => { window.removeEventListener('hashchange', update); window.removeEventListener('popstate', update) }
  }, [])
  return route
}

/** The current page's params and a setter that merges changes into the URL. */
export function useParams (route: Route): [URLSearchParams, (changes: Record<string, string | number | undefined | null>, replace?: boolean) => void] {
  const set = useCallback((changes: Record<string, string | number | undefined | null>, replace = false) => {
    const next: Record<string, string> = Object.fromEntries(route.params.entries())
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined || v === null || v === '') delete next[k]
      else next[k] = String(v)
    }
    navigate(hrefFor(route.page, next), replace)
  }, [route])
  return [route.params, set]
}
