// The console's entry, kept small: it sends the session request and the current page's
// first requests (page-requests.ts) at once, then loads the app, whose script the page
// already fetches in parallel (a modulepreload link the build adds to index.html). The
// app takes those answers instead of asking again (prefetch.ts), so a first load waits
// for the script and the server side by side rather than one after the other.
import './styles.css'
import { prefetchCall, prefetchSession } from './api.ts'
import { parseHash } from './hash.ts'
import { pageRequests } from './page-requests.ts'

const route = parseHash(location.hash)
const { first, then } = pageRequests(route.page, route.params)
const firstAnswers = Promise.allSettled([prefetchSession(), ...first.map(r => prefetchCall(r.rpc, r.fields))])
for (const r of then) void prefetchCall(r.rpc, r.fields, firstAnswers)

import('./app.tsx').catch((err: unknown) => {
  const root = document.getElementById('root')
  if (root !== null) root.textContent = `The console app did not load (${err instanceof Error ? err.message : String(err)}); reload the page.`
})
