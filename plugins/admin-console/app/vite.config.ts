// Builds the console SPA into plugins/admin-console/dist-app (the console server serves
// that directory). No third-party plugins: the compiler in vite compiles the TSX, so the
// build needs nothing beyond vite itself. modulePreload's polyfill is off because it
// would be an extra inline-free but unneeded script; every target browser supports
// modulepreload. The entry (src/main.tsx) is small and loads the app (src/app.tsx) with
// a dynamic import after sending the first requests; preloadApp lists the app's chunk in
// index.html so the browser fetches it alongside the entry, not after it.
import { defineConfig, type Plugin } from 'vite'
import { fileURLToPath } from 'node:url'

function preloadApp (): Plugin {
  return {
    name: 'switchyard-preload-app',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler (_html, ctx) {
        const chunks = Object.values(ctx.bundle ?? {}).filter(output => output.type === 'chunk' && output.isDynamicEntry && output.facadeModuleId?.endsWith('/src/app.tsx') === true)
        if (chunks.length !== 1) throw new Error(`preloadApp: expected one chunk for src/app.tsx, found ${chunks.length}`)
        return chunks.map(chunk => ({ tag: 'link', attrs: { rel: 'modulepreload', crossorigin: '', href: `./${chunk.fileName}` }, injectTo: 'head' as const }))
      }
    }
  }
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist-app', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false
  },
  oxc: { jsx: { runtime: 'automatic' } },
  plugins: [preloadApp()]
})
