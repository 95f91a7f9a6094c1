// Builds the console SPA into plugins/admin-console/dist-app (the console server serves
// that directory). No plugins: esbuild compiles the TSX, so the build needs nothing
// beyond vite itself. modulePreload's polyfill is off because it would be an extra
// inline-free but unneeded script; every target browser supports modulepreload.
import { defineConfig } from 'vite'
import { fileURLToPath } from 'node:url'

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
  oxc: { jsx: { runtime: 'automatic' } }
})
