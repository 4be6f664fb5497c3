import type { Config } from '../../src/config/inputs.js'
import { parseInputs } from '../../src/inputs/parse.js'
import { inputEnv } from './runner.js'
import type { HostFacts } from '../../src/host/probe.js'

export const hostedRunner: HostFacts = {
  arch: 'amd64',
  privilege: 'sudo',
  user: { name: 'runner', uid: 1001, gid: 118, home: '/home/runner' },
  containerd: { version: '2.2.1', major: 2 },
  docker: true,
  missingPackages: [],
  swapOn: true,
  existingCluster: false,
  daemonJsonExists: true,
  kubeconfigExists: false,
  daemonJson: { 'exec-opts': ['native.cgroupdriver=cgroupfs'], 'cgroup-parent': '/actions_job' },
  cpus: 4,
  selfHosted: false
}

/** The configuration from inputs as a runner passes them: every input action.yml declares, its default where `inputs` names none. */
export function config(inputs: Record<string, string> = {}): Config {
  const env = inputEnv(inputs)
  return parseInputs((n) => env[`INPUT_${n.toUpperCase()}`] ?? '')
}

/** The images kubeadm v1.34.2 names (`kubeadm config images list`), in its order. */
export const KUBEADM_IMAGES = [
  'registry.k8s.io/kube-apiserver:v1.34.2',
  'registry.k8s.io/kube-controller-manager:v1.34.2',
  'registry.k8s.io/kube-scheduler:v1.34.2',
  'registry.k8s.io/kube-proxy:v1.34.2',
  'registry.k8s.io/coredns/coredns:v1.12.1',
  'registry.k8s.io/pause:3.10.1',
  'registry.k8s.io/etcd:3.6.5-0'
] as const

/** Every image a default v1.34.2 plan asks for: kubeadm's, flannel's two, the smoke test's nginx. */
export const ALL_IMAGES: string[] = [...KUBEADM_IMAGES, 'ghcr.io/flannel-io/flannel:v0.28.9', 'ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3', 'docker.io/library/nginx:stable-alpine']

/**
 * What the host probe asks before anything changes (src/host/probe.ts), as a shim logs it, with
 * or without sudo: a test that a refusal "changed nothing" lets exactly these through.
 */
export const READ_ONLY_PROBES = /^(sudo (-n )?)?(containerd --version|true|docker (info|image inspect) .*|ip -j -4 (addr show|route show))$/
export const onlyProbes = (commands: readonly string[]): string[] => commands.filter((c) => !READ_ONLY_PROBES.test(c))
