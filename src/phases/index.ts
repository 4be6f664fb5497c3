// The action's plan: every host step, what it needs first, and what it does, one module
// per phase, in the order the phases run. Pure: the same config and host facts always give
// the same plan, which is what the dry run prints and what the run executes.
import type { Config } from '../config/inputs.js'
import type { Learned } from '../engine/learned.js'
import type { Step } from '../engine/step.js'
import type { RuntimeSetup } from '../runtimes/types.js'
import { containerdRequirement, crictlCandidates, imageTagsFor, kubeadmApiVersion, minorRow, rulesFor } from '../config/kubernetes.js'
import { minorOf } from '../config/versions.js'
import { predictKubeadmImages } from '../images/kubeadm.js'
import type { CacheSession } from '../cache/session.js'
import { enabledAddons } from '../addons/index.js'
import { addonProblems, addonSteps } from './addons.js'
import { binarySteps } from './binaries.js'
import { cacheSteps } from './cache.js'
import { configSteps, kubeadmConfigInputProblems, kubeadmImageNote } from './config.js'
import { planContext, type PlanInput } from './context.js'
import { hostInputProblems, hostSteps } from './host.js'
import { imageSteps } from './images.js'
import { initSteps } from './init.js'
import { networkSteps } from './network.js'
import { readySteps } from './ready.js'
import { runtimeSteps } from './runtime.js'
import { smokeSteps } from './smoke.js'

export interface Plan {
  steps: Step[]
  /** what the steps will learn, seeded with predictions for the dry run */
  learned: Learned
  /** where the runner user's kubeconfig will be */
  kubeconfig: string
  /** warnings worth a line in the log and the summary */
  notes: string[]
  /** how the runtime serves this host and version */
  runtime: RuntimeSetup
  /** the run's cache entry, if the cache is on here */
  cache?: CacheSession
  /**
   * Input problems only the resolved version, the runtime and the host reveal (kubeadm-config
   * against them and the other inputs; the pod and Service CIDRs against the node's
   * addresses; an add-on's inputs against the host): the caller stops with an InputError
   * before anything changes.
   */
  inputProblems: string[]
}

export function seedLearned(config: Config, version: string): Learned {
  return {
    // a version the table lacks: kubeadm names its images at run time, the dry run says so
    kubeadmImages: predictKubeadmImages(version, config.imageRepository) ?? [],
    kubeadmApi: kubeadmApiVersion(version),
    cniImages: []
  }
}

/**
 * For a minor newer than the version table (one released after this action was), the rules
 * the plan assumed, in a sentence; undefined for a minor the table has.
 */
export function assumedRules(version: string): string | undefined {
  const minor = minorOf(version)
  const rules = rulesFor(minor)
  if (!rules?.assumed) return undefined
  const newest = `1.${rules.row.minor}`
  const [own, ...fallbacks] = crictlCandidates(minor)
  return (
    `Kubernetes ${version} is newer than this action's version table (newest ${newest}), so the plan assumes ${newest}'s rules: ` +
    `containerd ${containerdRequirement(minor)} where containerd serves the CRI (the host's only if it meets that, otherwise the action's own), ` +
    `the kubeadm configuration API that kubeadm itself prints (${rules.row.kubeadmApi} predicted), kubeadm's images as kubeadm lists them, ` +
    `and crictl ${own}, or ${fallbacks.join(' or ')} while ${own} is not published yet.`
  )
}

export function buildPlan(input: PlanInput): Plan {
  const learned = seedLearned(input.config, input.version)
  const p = planContext(input, learned)
  learned.containerdMajor = p.runtime.containerdMajor
  learned.cniImages = p.cni.predictedImages(input.config)
  learned.addonImages = enabledAddons(input.config).flatMap((a) => a.images(input.config))
  const assumed = assumedRules(input.version)
  const tags = imageTagsFor(input.version)
  if (assumed) p.notes.push(assumed)
  else if (!tags) p.notes.push(`The version table has no image list for ${input.version}: the dry run cannot name kubeadm's images; the run asks kubeadm.`)
  else if (!tags.checked) p.notes.push(`kubeadm's images for ${input.version} are predicted from v1.${minorOf(input.version)}.${minorRow(minorOf(input.version))!.knownThrough}, the newest patch the table was checked against; the run asks kubeadm itself.`)
  const imageNote = kubeadmImageNote(p)
  if (imageNote) p.notes.push(imageNote)
  const host = hostSteps(p)
  const cluster = [
    ...cacheSteps(p),
    ...host,
    ...binarySteps(p),
    ...configSteps(p),
    ...runtimeSteps(p),
    ...imageSteps(p),
    ...initSteps(p, host.map((s) => s.id)),
    ...networkSteps(p)
  ]
  const steps = [...cluster, ...addonSteps(p, cluster), ...readySteps(p), ...smokeSteps(p)]
  return { steps, learned, notes: p.notes, kubeconfig: p.files.kubeconfig, runtime: p.runtime, cache: p.cache, inputProblems: [...kubeadmConfigInputProblems(p), ...hostInputProblems(p), ...addonProblems(p, cluster)] }
}
