// Which upstream release a CNI plug-in installs, and how its manifest is read. cni-version is
// parsed in config/inputs.ts; `latest` is resolved before the plan is made
// (cnis/latest.ts), so every plug-in sees a release here, never a question.
import { readFile, rm } from 'node:fs/promises'
import { fetchToFile } from '../host/download.js'
import type { NetworkInputs } from '../config/inputs.js'
import type { CniPlugin } from './types.js'

/** The release `plugin` installs under `config`: its pin, or the one cni-version names. */
export function cniReleaseOf(plugin: CniPlugin, config: NetworkInputs): string {
  if (!plugin.release) throw new Error(`cni '${config.cni}' installs no release`)
  const spec = config.cniVersion
  if (spec.kind === 'pinned') return plugin.release.pinned
  if (spec.kind === 'exact') return spec.version
  throw new Error("cni-version 'latest' was not resolved before the plan was made")
}

/** How the dry run and the summary name it: "v0.28.9", "v0.29.0 (latest)", "v0.27.0 (cni-version)". */
export function describeRelease(plugin: CniPlugin, config: NetworkInputs): string {
  const v = cniReleaseOf(plugin, config)
  const spec = config.cniVersion
  return spec.kind === 'exact' ? `${v} (${spec.latest ? 'latest' : 'cni-version'})` : v
}

/** The pinned release predicts its images for the dry run; any other is only read at run time. */
export function isPinned(plugin: CniPlugin, config: NetworkInputs): boolean {
  return config.cniManifest === undefined && cniReleaseOf(plugin, config) === plugin.release?.pinned
}

// github-url may be a file:// URL (a copy of the release downloads on this machine)
export const isUrl = (s: string): boolean => /^(?:https?|file):\/\//.test(s)

/** A manifest's text from an http(s) URL (through the tool cache's retrying download), a file:// URL or a local path. */
export async function readManifest(source: string): Promise<string> {
  if (!isUrl(source)) return readFile(source, 'utf8')
  const file = await fetchToFile(source)
  try {
    return await readFile(file, 'utf8')
  } finally {
    await rm(file, { force: true })
  }
}
