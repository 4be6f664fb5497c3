// Bundles the three entry points into dist/ (committed; CI checks it matches a fresh build).
// esbuild is deterministic and takes well under a second, so the check is cheap.
import { build } from 'esbuild'

await build({
  entryPoints: { index: 'src/entry/main.ts', post: 'src/entry/post.ts', cli: 'src/entry/cli.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  // Some CommonJS dependencies require Node built-ins at run time.
  banner: { js: "import { createRequire as __ksnCreateRequire } from 'node:module'; const require = __ksnCreateRequire(import.meta.url);" },
  legalComments: 'none',
  // @actions/artifact (with Azure's blob client) is for the post step alone: marked free of
  // side effects, it stays out of the main step's bundle, which imports it only through
  // actionPost, which it never calls (a smaller dist/index.js loads sooner)
  plugins: [
    {
      name: 'artifact-has-no-side-effects',
      setup(b) {
        b.onResolve({ filter: /^@actions\/artifact$/ }, async (args) => {
          if (args.pluginData === 'inner') return undefined
          const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: 'inner' })
          return { ...r, sideEffects: false }
        })
      }
    }
  ],
  logLevel: 'warning'
})
