// What the main step leaves for the post step, through core.saveState: one typed record,
// rewritten as steps complete so that a failure mid-way still tells post what was changed.
import * as core from '@actions/core'
import type { Paths } from './paths.js'

export interface SavedState {
  /** false for dry runs and for runs stopped by bad input: nothing to diagnose or undo */
  changedHost: boolean
  /** steps that began: what cleanup may have to undo, even where a step failed half-way */
  started: string[]
  completed: string[]
  failed?: { step?: string; message: string }
  cleanup: boolean
  paths: Paths
  kubeconfig: string
  swapWasOn: boolean
  containerdConfigExisted: boolean
  daemonJsonExisted: boolean
  mirrors: string[]
}

const KEY = 'kubeadm-single-node'

export function saveRunState(s: SavedState): void {
  core.saveState(KEY, JSON.stringify(s))
}

export function loadRunState(): SavedState | undefined {
  const raw = core.getState(KEY)
  if (!raw) return undefined
  try {
    return JSON.parse(raw) as SavedState
  } catch {
    return undefined
  }
}
