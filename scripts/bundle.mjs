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
  logLevel: 'warning'
})
