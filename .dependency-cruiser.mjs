// The layers of src/, top to bottom, as rules `npm run lint` enforces (dependency-cruiser):
//
//   entry      src/entry                      the action's main and post, the command line
//   commands   src/commands, src/io           one file per verb; how a command reports and keeps its ledger
//   phases     src/phases, src/cache,         the plan, phase by phase; the cache between runs;
//              src/preflight, src/inputs      what stops a run before anything changes; the
//                                             inputs' table and parser (which know the registries)
//   plug-ins   src/runtimes, src/cnis,        one folder per runtime, per CNI and per add-on (a load
//              src/addons                     balancer, a local registry), one registry line each
//   base       src/engine, src/host,          steps and their executor; every effect on the host;
//              src/config, and the libraries  inputs and version facts; images, render, kube
//              src/images, src/render, src/kube
//
// A module imports its own layer or lower ones, never a higher one; nothing imports in a
// circle; and only the plug-ins' registries and shared modules are named from outside them,
// never a runtime's or CNI's own folder, so that the generic code names no runtime and no CNI.
// Type-only imports count (tsPreCompilationDeps): a type from a higher layer ties the layers too.
const LAYERS = [
  ['entry', '^src/entry/'],
  ['commands', '^src/(commands|io)/'],
  ['phases', '^src/(phases|cache|preflight|inputs)/'],
  ['plug-ins', '^src/(runtimes|cnis|addons)/'],
  ['base', '^src/(engine|host|config|images|render|kube)/']
]

const upward = LAYERS.slice(1).map(([name, path], i) => ({
  name: `no-upward-from-${name}`,
  comment: `the ${name} layer imports only its own layer and those below it`,
  severity: 'error',
  from: { path },
  to: { path: LAYERS.slice(0, i + 1).map(([, p]) => `(${p})`).join('|') }
}))

export default {
  forbidden: [
    ...upward,
    {
      name: 'no-circular',
      comment: 'an import cycle makes every module in it load with every other',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true }
    },
    {
      name: 'plug-in-folders-are-their-own',
      comment: "outside a runtime's, CNI's or add-on's own folder, only the registries (index.ts), their types and the modules all plug-ins share are imported",
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(runtimes|cnis|addons)/' },
      to: { path: '^src/(runtimes|cnis|addons)/[^/]+/' }
    },
    {
      name: 'plug-ins-apart',
      comment: 'a runtime, a CNI or an add-on does not reach into another one',
      severity: 'error',
      from: { path: '^src/(runtimes|cnis|addons)/([^/]+)/' },
      to: { path: '^src/(runtimes|cnis|addons)/[^/]+/', pathNot: '^src/$1/$2/' }
    },
    {
      name: 'every-module-in-a-layer',
      comment: 'a new folder under src/ gets its place in LAYERS above',
      severity: 'error',
      from: { path: '^src/', pathNot: LAYERS.map(([, p]) => `(${p})`).join('|') },
      to: {}
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|node_modules|__tests__|bench|scripts)/' }
  }
}
