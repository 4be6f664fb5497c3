// config: what the cluster will be and what it will ask for, before the runtime is touched:
// kubeadm's configuration, the images kubeadm names from it, and the CNI's manifest and images.
import { step, type Step } from '../engine/step.js'
import { FROM_KUBEADM } from '../engine/learned.js'
import { displayArgv } from '../host/exec.js'
import { parseKubeadmImageList } from '../images/kubeadm.js'
import { featureGatesFlag, kubeadmSecrets } from '../config/kubeadm-config.js'
import { kubeadmApiFromDefaults } from '../config/kubernetes.js'
import { renderKubeadmConfig, type KubeadmConfigOptions } from '../render/kubeadm.js'
import { kubeadmConfigProblems } from '../render/kubeadm-check.js'
import { touches } from '../render/merge-patch.js'
import type { PlanContext } from './context.js'

export function kubeadmImagesListArgv(kubeadm: string, config: string): string[] {
  return [kubeadm, 'config', 'images', 'list', '--config', config]
}

export function kubeadmDefaultsArgv(kubeadm: string): string[] {
  return [kubeadm, 'config', 'print', 'init-defaults']
}

/** What the kubeadm configuration is rendered from: the inputs, the runtime's socket, kubeadm-config. */
export function kubeadmOptions(p: PlanContext): KubeadmConfigOptions {
  const { config, version, criSocket } = p
  const given = config.kubeadmConfig
  if (given && given.patches === undefined) throw new Error(`kubeadm-config's file ${given.path} was not read before the plan was built`)
  return {
    kubernetesVersion: version,
    criSocket,
    podSubnet: config.podNetworkCidr,
    serviceSubnet: config.serviceCidr,
    imageRepository: config.imageRepository,
    untaint: config.untaint,
    fastStart: config.fastStart,
    featureGates: config.featureGates,
    patches: given?.patches ?? [],
    kubeletArgs: p.runtime.kubeletArgs(config, p.paths)
  }
}

/** kubeadm-config as the messages name it: the input, and its file if it came from one. */
function kubeadmConfigSource(p: PlanContext): string {
  const path = p.config.kubeadmConfig?.path
  return path === undefined ? "'kubeadm-config'" : `'kubeadm-config' (the file ${JSON.stringify(path)})`
}

/** Where kubeadm-config and feature-gates clash with the version or the other inputs; empty when they fit. */
export function kubeadmConfigInputProblems(p: PlanContext): string[] {
  return kubeadmConfigProblems(kubeadmOptions(p), kubeadmConfigSource(p))
}

/** The image fields of ClusterConfiguration that change which images kubeadm names. */
const IMAGE_FIELDS = [['dns', 'imageRepository'], ['dns', 'imageTag'], ['etcd', 'local', 'imageRepository'], ['etcd', 'local', 'imageTag']]

/**
 * A note when kubeadm-config changes coredns' or etcd's image: the dry run's image list is
 * predicted from the version table without it (the run asks kubeadm, which reads it).
 */
export function kubeadmImageNote(p: PlanContext): string | undefined {
  const cluster = p.config.kubeadmConfig?.patches?.find((x) => x.kind === 'ClusterConfiguration')
  const changed = IMAGE_FIELDS.filter((f) => cluster && touches(cluster.fields, f)).map((f) => f.join('.'))
  if (changed.length === 0) return undefined
  return `kubeadm-config sets ${changed.join(', ')}: the dry run's list of kubeadm's images does not show that change; the run asks kubeadm, which does.`
}

function kubeadmStepTitle(p: PlanContext): string {
  const o = kubeadmOptions(p)
  const extra = [
    o.patches!.length > 0 ? `${kubeadmConfigSource(p)} merged in (${o.patches!.map((x) => x.kind).join(', ')})` : '',
    o.featureGates!.length > 0 ? `feature gates ${featureGatesFlag(o.featureGates!)}` : ''
  ].filter((x) => x !== '')
  return `kubeadm configuration${extra.length > 0 ? `, ${extra.join('; ')}` : ''}`
}

export function configSteps(p: PlanContext): Step[] {
  const { bin, files, learned } = p
  const list = kubeadmImagesListArgv(bin('kubeadm'), files.kubeadmConfig)
  const defaults = kubeadmDefaultsArgv(bin('kubeadm'))
  const options = kubeadmOptions(p)
  return [
    // the configuration API is kubeadm's own word, so a minor released after this action gets
    // the API its kubeadm speaks, not the table's guess
    step('config.kubeadm', kubeadmStepTitle(p), ['binaries.kubeadm'], [
      {
        kind: 'task',
        title: "ask kubeadm for its configuration API",
        shows: [`$ ${displayArgv(defaults)}`, `predicted: apiVersion ${learned.kubeadmApi}`],
        run: async (ctx) => {
          const res = await ctx.host.run(defaults)
          const { api, note } = kubeadmApiFromDefaults(res.stdout)
          if (note) (ctx.warn ?? ctx.log)(note)
          if (api !== ctx.learned.kubeadmApi) ctx.log(`kubeadm speaks ${api}, not the ${ctx.learned.kubeadmApi} the version table predicted: the configuration is written in ${api}`)
          ctx.learned.kubeadmApi = api
        }
      },
      {
        kind: 'write',
        path: files.kubeadmConfig,
        mode: 0o600,
        render: (l) => renderKubeadmConfig({ ...options, apiVersion: l.kubeadmApi }),
        redact: kubeadmSecrets(options.patches ?? [])
      }
    ]),
    step('config.images', 'ask kubeadm which images it will use', ['binaries.kubeadm', 'config.kubeadm'], [
      {
        kind: 'task',
        title: 'kubeadm config images list',
        shows: [`$ sudo ${displayArgv(list)}`, `predicted: ${learned.kubeadmImages.join(' ') || FROM_KUBEADM}`],
        run: async (ctx) => {
          const res = await ctx.host.run(list, { privileged: true })
          ctx.learned.kubeadmImages = parseKubeadmImageList(res.stdout)
          ctx.log(ctx.learned.kubeadmImages.join('\n'))
        }
      }
    ]),
    ...p.cni.configSteps(p)
  ]
}
