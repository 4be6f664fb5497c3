// `npm run bench`: preload of an image set shaped like the real one (the control plane for
// v1.34.2, flannel's two images, nginx; about 300 MB of gzip layers) from a loopback
// registry into a real containerd 2.x: one image at a time, versus the action's own preload.
// Each run starts from an empty containerd root. Needs root and the test bed's packages.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { createRun } from '../src/host/exec.js'
import { preloadImages } from '../src/images/preload.js'
import { renderContainerdConfig, renderHostsToml } from '../src/runtimes/containerd/config.js'
import { waitForContainerd } from '../src/runtimes/containerd/ready.js'
import { containerdStore } from '../src/runtimes/containerd/store.js'
import { Daemon } from '../__tests__/bed/daemons.js'
import { BINS, bedUnavailable } from '../__tests__/bed/env.js'
import { buildImage, push } from '../__tests__/bed/images.js'
import { startRegistry } from '../__tests__/bed/registry.js'
import { IMAGE_SET } from './image-set.js'

const MB = 1024 * 1024
const SET = IMAGE_SET
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)

const skip = bedUnavailable()
if (skip) {
  console.log(`bench skipped: ${skip}`)
  process.exit(0)
}

const run = createRun({ sudo: false, debug: () => {} })
const dir = await mkdtemp(join(tmpdir(), 'ksn-bench-'))
const registry = await startRegistry(dir)
const mirror = { registry: '', endpoints: [`http://${registry.host}`] }
const certs = join(dir, 'certs.d')
for (const r of ['registry.k8s.io', 'ghcr.io', 'docker.io']) {
  await mkdir(join(certs, r), { recursive: true })
  await writeFile(join(certs, r, 'hosts.toml'), renderHostsToml({ ...mirror, registry: r }))
}
let total = 0
for (const [i, [name, layers]] of SET.entries()) {
  const layout = await buildImage(dir, `bench${i}`, layers.map((m) => Math.round(m * MB)))
  await push(layout, `${registry.host}/${name.replace(/^[^/]+\//, '')}`)
  total += layers.reduce((a, b) => a + b, 0)
}
const images = SET.map(([name]) => name)

async function once(mode: 'serial' | 'action', round: number): Promise<number> {
  const root = join(dir, `c-${mode}-${round}`)
  await mkdir(join(root, 'run'), { recursive: true })
  const config = join(root, 'config.toml')
  await writeFile(config, renderContainerdConfig({ major: 2, sandboxImage: 'registry.k8s.io/pause:3.10.1', certsDir: certs }))
  const address = join(root, 'run', 'containerd.sock')
  const daemon = new Daemon('containerd', () => [BINS.containerd2, '--config', config, '--root', join(root, 'root'), '--state', join(root, 'state'), '--address', address], join(root, 'log'))
  daemon.start()
  try {
    await waitForContainerd({ run, ctr: BINS.ctr2, address, deadline: Date.now() + 20_000, logs: () => daemon.logs(20) })
    const store = containerdStore(run, { ctr: BINS.ctr2, address, hostsDir: certs })
    const t0 = performance.now()
    if (mode === 'serial') {
      for (const image of images) await store.pull(image)
    } else {
      await preloadImages(store, { images })
    }
    const seconds = (performance.now() - t0) / 1000
    const have = await store.list()
    for (const image of images) if (!have.has(image)) throw new Error(`${mode}: ${image} did not arrive`)
    return seconds
  } finally {
    await daemon.stop()
    await rm(root, { recursive: true, force: true })
  }
}

const times: Record<'serial' | 'action', number[]> = { serial: [], action: [] }
for (let round = 0; round < ROUNDS; round++) {
  // alternate the order so neither mode always runs on a warmer page cache
  for (const mode of round % 2 === 0 ? (['serial', 'action'] as const) : (['action', 'serial'] as const)) {
    times[mode].push(await once(mode, round))
  }
}
await registry.daemon.stop()
await rm(dir, { recursive: true, force: true })

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(', ')
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB; containerd 2.x from ${BINS.containerd2}`)
console.log(`image set: ${images.length} images, ${total.toFixed(1)} MB of gzip layers, from a loopback registry; ${ROUNDS} rounds`)
console.log(`one at a time : median ${median(times.serial).toFixed(2)} s  (${fmt(times.serial)})`)
console.log(`action preload: median ${median(times.action).toFixed(2)} s  (${fmt(times.action)})`)
console.log(`ratio (one at a time / action): ${(median(times.serial) / median(times.action)).toFixed(2)}x`)
