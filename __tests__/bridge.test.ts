import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BRIDGE_INTERFACE, renderBridgeConflist, renderLoopbackConf } from '../src/cnis/bridge/conflist.js'
import { renderPlan } from '../src/engine/describe.js'
import { HOST_PATHS } from '../src/host/paths.js'
import { buildPlan } from '../src/phases/index.js'
import { config, hostedRunner } from './helpers/facts.js'

describe('cni: bridge', () => {
  it("renders the reference plugins' chain for the pod CIDR: bridge as the gateway, host-local from the CIDR, portmap", () => {
    const conf = JSON.parse(renderBridgeConflist('10.32.0.0/16'))
    assert.equal(conf.cniVersion, '1.0.0')
    assert.deepEqual(
      conf.plugins.map((p: { type: string }) => p.type),
      ['bridge', 'portmap']
    )
    const [bridge, portmap] = conf.plugins
    assert.equal(bridge.bridge, BRIDGE_INTERFACE)
    assert.equal(bridge.isGateway, true)
    assert.equal(bridge.ipMasq, true)
    assert.equal(bridge.hairpinMode, true)
    assert.deepEqual(bridge.ipam, { type: 'host-local', ranges: [[{ subnet: '10.32.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }] })
    assert.deepEqual(portmap.capabilities, { portMappings: true })
    assert.deepEqual(JSON.parse(renderBridgeConflist('fd00:10:244::/56')).plugins[0].ipam.routes, [{ dst: '::/0' }])
    assert.deepEqual(JSON.parse(renderLoopbackConf()), { cniVersion: '1.0.0', name: 'lo', type: 'loopback' })
  })

  it('plans no DaemonSet, no image and no network step: the files are written before the runtime starts, and the cluster waits for nothing else', () => {
    const plan = buildPlan({ config: config({ cni: 'bridge', 'pod-network-cidr': '10.32.0.0/16' }), facts: hostedRunner, version: 'v1.34.2', paths: HOST_PATHS })
    const ids = plan.steps.map((s) => s.id)
    assert.ok(!ids.includes('network.cni'))
    assert.deepEqual(plan.learned.cniImages, [])
    const cni = plan.steps.find((s) => s.id === 'config.cni')!
    assert.deepEqual(cni.needs, [])
    assert.deepEqual(
      cni.ops.map((o) => (o.kind === 'write' ? o.path : o.kind)),
      ['/etc/cni/net.d/10-kubeadm-single-node-bridge.conflist', '/etc/cni/net.d/99-loopback.conf']
    )
    assert.deepEqual(plan.steps.find((s) => s.id === 'ready.cluster')!.needs, ['init.kubeconfig'])
    assert.ok(ids.includes('smoke.check'), 'pods have a network: nginx proves it')
    const text = renderPlan(plan.steps, plan.learned)
    assert.match(text, /"subnet": "10\.32\.0\.0\/16"/)
    // the bridge appears with the first pod: recorded before kubeadm init, removed by cleanup
    assert.match(text, /then removes, where they did not exist, .*\/var\/lib\/cni\/networks\/kubeadm-single-node, cni0/)
    assert.doesNotMatch(text, /flannel|calico/i)
  })
})
