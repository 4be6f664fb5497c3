import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { kubeArch, parseContainerdVersion } from '../src/host/probe.js'
import { criPluginStatus } from '../src/runtimes/containerd/ready.js'
import type { StepTiming } from '../src/engine/step.js'
import { ganttChart, timingsJson } from '../src/io/summary.js'

describe('reading what host tools print', () => {
  it("reads containerd's version as Docker's, Debian's and upstream builds print it", () => {
    assert.deepEqual(parseContainerdVersion('containerd containerd.io 2.2.1 dea7da592f5d1d2b7755e3a161be07f43fad8f75'), { version: '2.2.1', major: 2 })
    assert.deepEqual(parseContainerdVersion('containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3'), { version: '1.6.20', major: 1 })
    assert.deepEqual(parseContainerdVersion('containerd github.com/containerd/containerd/v2 v2.1.9 abc'), { version: '2.1.9', major: 2 })
    assert.equal(parseContainerdVersion('command not found'), undefined)
  })

  it("finds the CRI plugin's status in `ctr plugins ls` of 1.6 and 2.x", () => {
    const v16 = 'TYPE                                  ID                       PLATFORMS      STATUS\nio.containerd.snapshotter.v1          devmapper                linux/amd64    error\nio.containerd.grpc.v1                 cri                      linux/amd64    ok\n'
    const v21 = 'TYPE                                      ID                       PLATFORMS      STATUS\nio.containerd.cri.v1                      images                   -              ok\nio.containerd.grpc.v1                     cri                      -              ok\n'
    const failed = 'TYPE ID PLATFORMS STATUS\nio.containerd.grpc.v1 cri linux/amd64 error\n'
    assert.equal(criPluginStatus(v16), 'ok')
    assert.equal(criPluginStatus(v21), 'ok')
    assert.equal(criPluginStatus(failed), 'error')
    assert.equal(criPluginStatus('TYPE ID PLATFORMS STATUS\nio.containerd.grpc.v1 introspection - ok\n'), undefined)
  })

  it('maps runner architectures to Kubernetes ones, refusing others', () => {
    assert.equal(kubeArch('x64'), 'amd64')
    assert.equal(kubeArch('arm64'), 'arm64')
    assert.throws(() => kubeArch('ppc64'), /no Kubernetes release binaries here/)
  })

  it('charts steps by phase and sums phases by wall time, not by adding steps', () => {
    const timings: StepTiming[] = [
      { id: 'binaries.kubeadm', phase: 'binaries', start: 0, end: 3.2 },
      { id: 'binaries.kubelet', phase: 'binaries', start: 0, end: 4.1 },
      { id: 'init.kubeadm', phase: 'init', start: 10, end: 31.6 }
    ]
    const chart = ganttChart(timings).split('\n')
    assert.equal(chart[0], 'gantt')
    assert.ok(chart.includes('  section binaries'))
    assert.ok(chart.includes('  binaries.kubelet : 0, 5'))
    assert.ok(chart.includes('  init.kubeadm : 10, 32'))
    assert.deepEqual(timingsJson(timings, 40), { binaries: 4.1, init: 21.6, total: 40 })
  })
})
