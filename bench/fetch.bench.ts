// `npm run bench:fetch`: everything a default run fetches, over one shaped link, against the
// link's floor for those bytes (issue 17). The images of `npm run bench` in a loopback
// registry, and the binaries (kubeadm, kubelet, kubectl, crictl, the CNI plugins) on a
// loopback file server laid out like dl.k8s.io and GitHub's release paths, each behind a
// bench/shaping-proxy.ts front; the two fronts share one link toward the client, as a
// runner's network does. The action's own code fetches: kubernetesBinaries (phases/binaries.ts),
// cachedTarball with the tool cache, and preloadImages into a real containerd 2.x. Both
// start at once (the first request) and the clock stops when the last of them is done.
//
// Modes, each from an empty containerd and an empty tool cache:
//   node-tarball  kubeadm, kubelet and kubectl from kubernetes-node-linux-amd64.tar.gz (the default)
//   bare          the three bare binaries (what the action fetched before; still its fallback)
//
// The binaries' contents: dl.k8s.io is out of reach here, so each file is a stand-in of an
// assumed size (--sizes, MB: kubeadm,kubelet,kubectl,kube-proxy,cni-plugins; defaults near
// what v1.34 publishes for amd64) cut from real Go binaries on this machine (crictl, critest,
// containerd, dockerd, ...), so that gzip finds them as compressible as Kubernetes' own. The
// crictl tarball holds the real crictl when one is found. Tarballs are built and gzipped here:
// their sizes are measured, not assumed.
//
// Shaping as bench:network (--mbps, --link-mbps, --rtt-ms, --setup-rtts), plus --rounds and
// --scale (image layers). Needs root and the bed's packages (containerd 2.x, a registry).
import { statSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { cachedTarball } from '../src/host/download.js'
import { preloadImages } from '../src/images/preload.js'
import { kubernetesBinaries } from '../src/phases/binaries.js'
import { containerdStore } from '../src/runtimes/containerd/store.js'
import { BINS } from '../__tests__/bed/env.js'
import { hostedRunner } from '../__tests__/helpers/facts.js'
import { openBed, run, withContainerd } from './bed.js'
import { DEFAULT_SIZES, parseSizes, startShapedMirrors, VERSION } from './release-bed.js'
import { describeShaping, flagValue, shapingFromEnv } from './shaping-proxy.js'

const MB = 1e6
const MiB = 1024 * 1024
const started = performance.now()
const argv = process.argv.slice(2)
const shaping = shapingFromEnv(argv)
const ROUNDS = Math.round(Number(flagValue(argv, '--rounds') ?? process.env.KSN_BENCH_ROUNDS ?? 3))
const SCALE = Number(flagValue(argv, '--scale') ?? process.env.KSN_BENCH_SCALE ?? 1)
/** assumed sizes in MB of the bare files (see the header): kubeadm, kubelet, kubectl, kube-proxy, and the CNI plugins' 20 executables together */
const SIZES = parseSizes(flagValue(argv, '--sizes') ?? DEFAULT_SIZES)
if (!(ROUNDS >= 1) || !(SCALE > 0)) throw new Error('--rounds and --scale: numbers above 0')

const bed = openBed()
const { undo, cleanup } = bed

const mb = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`

const dir = await mkdtemp(join(tmpdir(), 'ksn-bench-fetch-'))
undo.push(() => rm(dir, { recursive: true, force: true }))

try {
  const { pushed, images, served, files, imageFront: imageProxy, fileFront: fileProxy, certs, config, arts } = await startShapedMirrors(bed, dir, { shaping, sizes: SIZES, scale: SCALE })

  type Mode = 'node-tarball' | 'bare'
  const MODES: Mode[] = ['node-tarball', 'bare']
  interface Sample {
    seconds: number
    binariesSeconds: number
    imagesSeconds: number
    fileBytes: Map<string, number>
    imageBytes: number
    upBytes: number
    /** seconds from the start to the last byte either front delivered */
    lastByteSeconds: number
  }
  const samples = new Map<Mode, Sample[]>(MODES.map((m) => [m, []]))
  let runs = 0

  async function measure(mode: Mode): Promise<Sample> {
    const root = join(dir, `run-${runs++}`)
    const tc = join(root, 'tool-cache')
    const temp = join(root, 'temp')
    await mkdir(tc, { recursive: true })
    await mkdir(temp)
    Object.assign(process.env, { RUNNER_TOOL_CACHE: tc, RUNNER_TEMP: temp })
    return withContainerd(bed, root, certs, async (address) => {
      const store = containerdStore(run, { ctr: BINS.ctr2, address, hostsDir: certs })
      imageProxy.takeStats()
      fileProxy.takeStats()
      files.take()
      const t0 = performance.now()
      const kube = kubernetesBinaries({ config, version: VERSION, facts: hostedRunner, arts }, mode)
      const timed = async (work: Promise<unknown>): Promise<number> => (await work, (performance.now() - t0) / 1000)
      const noLog = (): void => {}
      const [binariesSeconds, imagesSeconds] = await Promise.all([
        timed(
          Promise.all([
            ...(['kubeadm', 'kubelet', 'kubectl'] as const).map((b) => kube.get(b, noLog)),
            cachedTarball(arts.crictl, { tool: 'crictl', version: 'v1.34.0', arch: 'amd64' }, noLog),
            cachedTarball(arts['cni-plugins'], { tool: 'cni-plugins', version: 'v1.8.0', arch: 'amd64' }, noLog)
          ])
        ),
        timed(preloadImages(store, { images }))
      ])
      const seconds = (performance.now() - t0) / 1000
      const i = imageProxy.takeStats()
      const f = fileProxy.takeStats()
      // both fronts' clocks were zeroed by takeStats just before t0
      return { seconds, binariesSeconds, imagesSeconds, fileBytes: files.take(), imageBytes: i.bytesDown, upBytes: i.bytesUp + f.bytesUp, lastByteSeconds: Math.max(i.lastDownMs, f.lastDownMs) / 1000 }
    })
  }

  const setBytes = pushed.reduce((a, p) => a + p.blobs.reduce((b, x) => b + x.size, 0), 0)
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB; containerd 2.x from ${BINS.containerd2}`)
  console.log(`images: ${images.length}, ${mb(setBytes)} of blobs (layers x${SCALE}); binaries as served: ${served.map((s) => `${s.path.split('/').pop()} ${mb(statSync(s.file).size)}`).join(', ')}`)
  console.log(`assumed bare sizes (MB): kubeadm ${SIZES[0]}, kubelet ${SIZES[1]}, kubectl ${SIZES[2]}, kube-proxy ${SIZES[3]} (in the node tarball only), CNI plugins ${SIZES[4]} unpacked`)
  console.log(`shaping: ${describeShaping(shaping)}; the registry and the file server share the link`)
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of MODES.map((_, i) => MODES[(i + round) % MODES.length])) {
      const s = await measure(mode)
      samples.get(mode)!.push(s)
      const bytes = s.imageBytes + [...s.fileBytes.values()].reduce((a, b) => a + b, 0)
      console.log(`  round ${round + 1}: ${mode.padEnd(12)} ${s.seconds.toFixed(2)} s (binaries ${s.binariesSeconds.toFixed(2)} s, images ${s.imagesSeconds.toFixed(2)} s), ${mb(bytes)} down`)
    }
  }

  const linkBytesPerSec = shaping.linkBytesPerSec > 0 ? shaping.linkBytesPerSec : Infinity
  const median = (mode: Mode): Sample => [...samples.get(mode)!].sort((a, b) => a.seconds - b.seconds)[Math.floor(ROUNDS / 2)]
  console.log('')
  console.log('| mode | seconds (median) | rounds | bytes down | floor (bytes / link) | ratio to floor | last byte | binaries done | images done |')
  console.log('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |')
  const ratios = new Map<Mode, number>()
  for (const mode of MODES) {
    const m = median(mode)
    const bytes = m.imageBytes + [...m.fileBytes.values()].reduce((a, b) => a + b, 0)
    const floor = bytes / linkBytesPerSec
    ratios.set(mode, m.seconds / floor)
    const all = samples.get(mode)!.map((s) => s.seconds.toFixed(2)).join(', ')
    console.log(`| ${mode} | ${m.seconds.toFixed(2)} | ${all} | ${mb(bytes)} | ${floor.toFixed(2)} s | ${(m.seconds / floor).toFixed(2)}x | ${m.lastByteSeconds.toFixed(2)} s | ${m.binariesSeconds.toFixed(2)} s | ${m.imagesSeconds.toFixed(2)} s |`)
  }
  console.log('last byte: when the link delivered its last byte; the rest is unpacking (ctr, tar), hashing and the tool cache\'s copies.')
  console.log('')
  console.log('bytes a run fetches, by kind (median runs):')
  for (const mode of MODES) {
    const m = median(mode)
    const kinds = [['images', m.imageBytes] as const, ...[...m.fileBytes.entries()].sort(([a], [b]) => a.localeCompare(b))]
    const total = kinds.reduce((a, [, b]) => a + b, 0)
    console.log(`- ${mode}: ${kinds.map(([k, b]) => `${k} ${mb(b)}`).join(', ')}; in all ${mb(total)} (${(total / MiB).toFixed(1)} MiB)`)
  }
  const kubeBytes = (mode: Mode): number => [...median(mode).fileBytes.entries()].filter(([k]) => /kube|node tarball/.test(k)).reduce((a, [, b]) => a + b, 0)
  console.log(`kubeadm, kubelet and kubectl: ${mb(kubeBytes('bare'))} bare, ${mb(kubeBytes('node-tarball'))} as the node tarball (${((1 - kubeBytes('node-tarball') / kubeBytes('bare')) * 100).toFixed(0)}% fewer)`)
  const r = ratios.get('node-tarball')!
  console.log('')
  console.log(`target: a default run's whole fetch within 1.2x of the link's floor: ${r.toFixed(2)}x: ${r <= 1.2 ? 'met' : 'MISSED'}`)
} finally {
  await cleanup()
  console.log(`\nwhole run ${((performance.now() - started) / 1000).toFixed(0)} s; daemons stopped, ${dir} removed`)
}
