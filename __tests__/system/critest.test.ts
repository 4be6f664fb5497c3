// cri-tools' critest against the containerd configuration the action writes, beside containerd's
// own default configuration with the CRI on, in a booted machine dressed as a hosted runner.
// The action runs as in action.test.ts (main, then post; kubeadm, kubelet and kubectl are
// stand-ins, crictl the real one) and, between main and post, critest runs twice against the
// same containerd:
//   (a) on the config.toml the action wrote for a default run;
//   (b) on `containerd config default` of that same containerd binary (the CRI on), the baseline;
// for two containerds:
//   - the host's containerd 1.6.20 (Docker's, Debian bookworm), which the action configures
//     and restarts for Kubernetes v1.28.15;
//   - the action's own containerd 2.x (Debian sid's 2.1.9 binaries standing for the pinned
//     release tarball), which it runs beside the host's for Kubernetes v1.36.0 (so the action
//     downloads crictl v1.36.0: the real one, under its own release name).
// The rule: (a) fails no spec that (b) passes.
//
// Layered over both (a) and (b) alike, because this machine is not a runner (machine.ts, top;
// cri.ts): restrict_oom_score_adj = true (no CAP_SYS_RESOURCE here) and a runc wrapper as the
// runc runtime's BinaryName that drops cgroup limits (no cpu or memory controller here). Also
// alike: hosts.toml mirrors for gcr.io and k8s.gcr.io (critest's registries) beside those the
// action wrote for its registry-mirrors input, and a bridge CNI network in the config's
// conf_dir (the action's flannel config comes only after kubeadm init, which cannot succeed
// here). (b) alone gets the action's registry config_path (containerd's default has none, and
// nothing is reachable here but the machine's registry) and, for the action's own containerd,
// the root, state and socket paths of (a) (its default ones belong to the host's containerd).
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it as test } from 'node:test'
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml'
import { HOST_PATHS } from '../../src/host/paths.js'
import { privatePaths } from '../../src/runtimes/containerd/paths.js'
import { PRIVATE_UNIT } from '../../src/runtimes/containerd/unit.js'
import { installRuncWithoutLimits, RUNC_WITHOUT_LIMITS } from './cri.js'
import { criTools, crictlMissing, critestMissing } from './cri-tools.js'
import { CANNOT_RUN, countLine, differences, mirrorCritestRegistries, pushCritestImages, regressions, runCritest, type CritestRun } from './critest.js'
import { bootMachine, copyIn, pushImage, RUNNER, RUNNER_FILES, systemAvailable, type Machine, type Release } from './machine.js'
import { CONTAINERD2, inputs, prepareMachine, runStep, type Run } from './run-action.js'

const skip =
  systemAvailable() ?? crictlMissing() ?? critestMissing() ?? (existsSync(join(CONTAINERD2, 'containerd')) ? undefined : `no containerd 2.x at ${CONTAINERD2} (scripts/fetch-containerd2.sh puts it there)`)
if (skip) console.log(`# SKIP critest in a booted machine: ${skip}`)
const it = (name: string, fn: () => Promise<void>): void => void test(name, { skip }, fn)

const CRITEST = '/opt/ksn-critest/critest'
const CNI_CONF = '10-ksn-critest.conflist'

/** Where a containerd config keeps the CRI's runtime and image settings: one plugin in config version 2, two in version 3. */
function criSections(cfg: any): { runtime: any; images: any } {
  const p = (cfg.plugins ??= {})
  if (Number(cfg.version) >= 3) return { runtime: (p['io.containerd.cri.v1.runtime'] ??= {}), images: (p['io.containerd.cri.v1.images'] ??= {}) }
  const cri = (p['io.containerd.grpc.v1.cri'] ??= {})
  return { runtime: cri, images: cri }
}

/** The two settings this machine needs, on any config (see the top of this file). */
function layerMachine(cfg: any): void {
  const { runtime } = criSections(cfg)
  runtime.restrict_oom_score_adj = true
  const runc = (((runtime.containerd ??= {}).runtimes ??= {}).runc ??= {})
  ;(runc.options ??= {}).BinaryName = RUNC_WITHOUT_LIMITS
}

interface Target {
  /** e.g. containerd 1.6.20 */
  name: string
  configPath: string
  unit: string
}

interface Pair {
  a: CritestRun
  b: CritestRun
  version: string
  sandboxA: string
  sandboxB: string
}

/** critest (a) on the action's config, then (b) on containerd's default; the action's file put back byte for byte, containerd restarted on it. */
async function critestPair(m: Machine, t: Target): Promise<Pair> {
  const original = await m.readFile(t.configPath)
  const action = parseToml(original) as any
  const socket = String(action.grpc?.address ?? HOST_PATHS.containerdSocket)
  const endpoint = `unix://${socket}`
  const { runtime: actionRuntime, images: actionImages } = criSections(action)
  const certsDir = String(actionImages.registry?.config_path ?? '')
  assert.ok(certsDir, `the action's ${t.configPath} names a registry config_path`)
  const confDir = String(actionRuntime.cni?.conf_dir ?? '/etc/cni/net.d')
  const pid = (await m.run(['systemctl', 'show', t.unit, '-p', 'MainPID', '--value'])).trim()
  const binary = (await m.run(['readlink', `/proc/${pid}/exe`])).trim()
  const version = (await m.run([binary, '--version'])).trim()

  // (b): the binary's own default, with the CRI on (containerd's default enables every plugin)
  const baseline = parseToml(await m.run([binary, 'config', 'default'])) as any
  assert.ok(!(baseline.disabled_plugins ?? []).length, `containerd config default disables nothing: ${baseline.disabled_plugins}`)
  const { runtime: baseRuntime, images: baseImages } = criSections(baseline)
  ;(baseImages.registry ??= {}).config_path = certsDir
  if (t.unit !== 'containerd') {
    for (const k of ['root', 'state']) baseline[k] = action[k]
    for (const k of ['grpc', 'ttrpc', 'debug']) if (action[k]?.address !== undefined) (baseline[k] ??= {}).address = action[k].address
  }
  const baseConfDir = String(baseRuntime.cni?.conf_dir ?? '/etc/cni/net.d')
  // the sandbox images each config names, pushed to the registry
  const sandboxOf = (cfg: any): string => String(criSections(cfg).images.pinned_images?.sandbox ?? criSections(cfg).runtime.sandbox_image ?? '')
  const sandboxA = sandboxOf(action)
  const sandboxB = sandboxOf(baseline)
  for (const s of [sandboxB]) if (s) await pushImage(m, s)

  // alike for (a) and (b): this machine's two settings, critest's registries, a CNI network
  const aConfig = structuredClone(action)
  layerMachine(aConfig)
  layerMachine(baseline)
  await installRuncWithoutLimits(m)
  const added = await mirrorCritestRegistries(m, certsDir)
  const conflist = JSON.stringify({
    cniVersion: '0.4.0',
    name: 'ksn-critest',
    plugins: [
      { type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] } },
      { type: 'portmap', capabilities: { portMappings: true } }
    ]
  })
  for (const d of new Set([confDir, baseConfDir])) await m.writeFile(`${d}/${CNI_CONF}`, conflist)

  const use = async (content: string): Promise<void> => {
    await m.writeFile(t.configPath, content)
    await m.run(['systemctl', 'restart', t.unit])
    // the real crictl says when the CRI answers
    const deadline = Date.now() + 30_000
    for (;;) {
      const r = await m.exec(['crictl', '--runtime-endpoint', endpoint, '--image-endpoint', endpoint, 'info'])
      if (r.code === 0) return
      if (Date.now() > deadline) throw new Error(`containerd (${t.name}) did not serve CRI on ${endpoint} within 30 s: ${r.stderr}\n${await m.journal(t.unit, 30)}`)
      await new Promise((r) => setTimeout(r, 300))
    }
  }
  try {
    await use(stringifyToml(aConfig))
    const a = await runCritest(m, CRITEST, endpoint, `(a) ${t.name}, the action's config`)
    console.log(`# ${countLine(a)}`)
    await use(stringifyToml(baseline))
    const b = await runCritest(m, CRITEST, endpoint, `(b) ${t.name}, containerd's default config`)
    console.log(`# ${countLine(b)}`)
    for (const d of differences(a, b)) console.log(`# differs: ${d.replace(/\n/g, '\n#   ')}`)
    for (const r of [a, b]) for (const s of r.specs.filter((x) => x.state === 'failed')) console.log(`# ${r.label} failed: ${s.name}\n#   ${(s.failure ?? '').replace(/\n/g, '\n#   ')}`)
    const slowest = [...a.specs].sort((x, y) => y.ms - x.ms).slice(0, 6)
    console.log(`# slowest in (a): ${slowest.map((x) => `${x.name.replace(/^\[k8s\.io\] /, '')} ${(x.ms / 1000).toFixed(1)} s`).join('; ')}`)
    return { a, b, version, sandboxA, sandboxB }
  } finally {
    for (const d of new Set([confDir, baseConfDir])) await m.exec(['rm', '-f', `${d}/${CNI_CONF}`])
    await m.exec(['rm', '-rf', ...added])
    await use(original)
    await m.exec(['rm', '-f', RUNC_WITHOUT_LIMITS])
  }
}

/** main with `extra` inputs; between main and post, `whileUp`; post with main's state. */
async function runAction(m: Machine, release: Release, extra: Record<string, string>, whileUp: () => Promise<void>): Promise<{ main: Run; post: Run }> {
  await m.resetRunnerFiles()
  const env = inputs(release, extra)
  const main = await runStep(m, 'index', env)
  for (const l of main.out.split('\n')) if (/^[✓✗] \[/.test(l)) console.log(`# ${l}`)
  await whileUp()
  const state = Object.fromEntries(Object.entries(main.state).map(([k, v]) => [`STATE_${k}`, v]))
  await m.writeFile(RUNNER_FILES.state, '', { uid: RUNNER.uid, gid: RUNNER.gid })
  const post = await runStep(m, 'post', { ...env, ...state })
  return { main, post }
}

describe("critest on the action's containerd configuration, beside containerd's own default", { timeout: 2_400_000 }, () => {
  let m: Machine
  const runs: Record<'host' | 'own', { main: Run; post: Run; pair?: Pair; error?: Error }> = {} as never
  const started = Date.now()

  before(
    async () => {
      if (skip) return
      m = await bootMachine({ name: 'critest', serviceContainer: false, log: (l) => console.log(`# ${l}`) })
      const v128 = await prepareMachine(m, 'v1.28.15')
      const v136 = await prepareMachine(m, 'v1.36.0', { registry: false })
      await pushCritestImages(m)
      // critest's pause:3.9 under two registries (the 1.28 images pushed it; k8s.gcr.io mirrors to the same path)
      await copyIn(m, criTools().critest!, CRITEST, 0o755)
      console.log(`# critest from ${criTools().from}; ready in ${Date.now() - started} ms`)
      for (const [key, release, version, target] of [
        ['host', v128, 'v1.28.15', { configPath: HOST_PATHS.containerdConfig, unit: 'containerd' }],
        ['own', v136, 'v1.36.0', { configPath: join(privatePaths(HOST_PATHS).configDir, 'config.toml'), unit: PRIVATE_UNIT }]
      ] as const) {
        let pair: Pair | undefined
        let error: Error | undefined
        const run = await runAction(m, release, { 'kubernetes-version': version }, async () => {
          try {
            const pid = (await m.run(['systemctl', 'show', target.unit, '-p', 'MainPID', '--value'])).trim()
            const bin = (await m.run(['readlink', `/proc/${pid}/exe`])).trim()
            const name = `containerd ${/\sv?(\d+\.\d+\.\d+)/.exec(await m.run([bin, '--version']))?.[1] ?? '?'}`
            pair = await critestPair(m, { ...target, name })
          } catch (e) {
            error = e as Error
          }
        })
        runs[key] = { ...run, pair, error }
      }
    },
    { timeout: 2_300_000 }
  )
  after(async () => {
    await m?.shutdown()
    console.log(`# whole file ${Math.round((Date.now() - started) / 1000)} s`)
  })

  for (const [key, what] of [
    ['host', "the host's containerd 1.6, configured by the action for v1.28.15"],
    ['own', "the action's own containerd 2.x, run beside the host's for v1.36.0"]
  ] as const) {
    it(`${what}: critest (a) on the action's config fails no spec that (b) containerd's default passes`, async () => {
      const r = runs[key]
      assert.equal(r.main.code, 1, r.main.out)
      assert.match(r.main.out, /error execution phase wait-control-plane/, 'the run went as far as kubeadm init')
      if (r.error) throw r.error
      const { a, b } = r.pair!
      assert.ok(a.passed > 0 && b.passed > 0, `${countLine(a)}; ${countLine(b)}`)
      // skipped alike: those that cannot run here (CANNOT_RUN), and any a spec skips itself
      const skipped = (x: CritestRun): string[] => x.specs.filter((s) => s.state === 'skipped').map((s) => s.name).sort()
      assert.ok(Object.keys(CANNOT_RUN).every((k) => skipped(a).some((n) => n.includes(k))), countLine(a))
      assert.deepEqual(skipped(b), skipped(a))
      assert.deepEqual(regressions(a, b), [], `${countLine(a)}\n${countLine(b)}`)
      assert.equal(r.post.code, 0, r.post.out)
      assert.doesNotMatch(r.post.out, /FAILED:/)
    })
  }

  it('ran the real crictl v1.36.0, under its own release name, in the v1.36.0 run', async () => {
    const r = runs.own
    assert.match(r.main.out, /crictl v1\.36\.0/)
    assert.match(r.main.out, /verified crictl against .*\/kubernetes-sigs\/cri-tools\/releases\/download\/v1\.36\.0\/crictl-v1\.36\.0-linux-amd64\.tar\.gz/)
  })
})
