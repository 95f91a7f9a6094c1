// The page and its state in the URL hash (#/tasks?state=dead&id=...), parsed without
// React so the boot module (main.tsx) can read it before the app is loaded.

export interface Route { page: string, params: URLSearchParams }

export function parseHash (hash: string): Route {
  const raw = hash.replace(/^#\/?/, '')
  const q = raw.indexOf('?')
  const page = (q === -1 ? raw : raw.slice(0, q)) || 'overview'
  return { page, params: new URLSearchParams(q === -1 ? '' : raw.slice(q + 1)) }
}
