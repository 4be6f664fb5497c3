import type { Config } from '../../src/config/inputs.js'
import { parseInputs } from '../../src/config/inputs.js'
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

export function config(inputs: Record<string, string> = {}): Config {
  return parseInputs((n) => inputs[n] ?? '')
}
