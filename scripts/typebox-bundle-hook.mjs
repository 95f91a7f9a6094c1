// Module hook of scripts/typebox-bundle.mjs: `typebox` and its subpaths resolve to the
// bundle's entries; every other specifier goes on down the chain untouched.
let urls = {}

export function initialize (data) {
  urls = data.urls
}

export async function resolve (specifier, context, nextResolve) {
  const url = urls[specifier]
  return url === undefined ? nextResolve(specifier, context) : { url, format: 'module', shortCircuit: true }
}
