// `npm run bench:cache`: what the cache input costs and buys a job, to decide its default
// (issue 17). Three jobs, each from an empty containerd and an empty tool cache, over the
// links of bench:fetch (registry and release mirror sharing one shaped link) and a stand-in of
// GitHub's cache service (__tests__/helpers/cache-service.ts, driven by the real
// @actions/cache) behind a shaped link of its own:
//   cache: false    every download and image fetched (the action's fetch, as bench:fetch)
//   cold + save     the same, restoring nothing (a miss), then the post step's save: the images
//                   exported from containerd, the entry packed and uploaded
//   warm + restore  the entry restored (downloaded, unpacked), each download verified against
//                   its checksum file (fetched, small), the images imported, nothing pulled
// Each job's time is its fetch (first request to the end of the preload) plus, for the cold
// one, the save, as the job's total sees them; the rest of a job (kubeadm init, the waits) is
// the same in all three and left out.
//
// The cache link (flags --cache-mbps, --cache-up-mbps, --cache-rtt-ms): GitHub publishes no
// figure. Reported restores on hosted runners run at about 50 MB/s: actions/cache#928 ("50
// MBs/s" hosted), actions/cache#944 (59-92 MB/s on Linux), tespkg/actions-cache#43 (261 MB in
// 6 s, 434 MB in 11 s on hosted runners). Modelled as 48 MiB/s toward the runner and half that
// away from it (no figure is reported for saves; uploads to blob storage are slower than
// downloads). On github.com @actions/cache fetches the blob in 8 concurrent ranges; from the
// stand-in (a host that is not *.blob.core.windows.net) it reads one stream, so one connection
// may take the whole link here. RTT 10 ms: the service is in the runner's region.
// Also --mbps, --link-mbps, --rtt-ms, --setup-rtts (the internet link), --rounds, --scale,
// --sizes as bench:fetch. Needs root, the bed's packages, and zstd (what @actions/cache packs
// with on a runner; gzip without it).
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { actionsCache } from '../src/cache/backend.js'
import { entryLayout, writeManifest } from '../src/cache/entry.js'
import { cacheKey } from '../src/cache/key.js'
import { CacheSession, mb as mbOf } from '../src/cache/session.js'
import { cachedTarball } from '../src/host/download.js'
import { preloadImages } from '../src/images/preload.js'
import { kubernetesBinaries } from '../src/phases/binaries.js'
import { importCached } from '../src/phases/images.js'
import { containerdStore, ctrArgv } from '../src/runtimes/containerd/store.js'
import { BINS } from '../__tests__/bed/env.js'
import { startCacheService } from '../__tests__/helpers/cache-service.js'
import { hostedRunner } from '../__tests__/helpers/facts.js'
import { openBed, run, withContainerd } from './bed.js'
import { DEFAULT_SIZES, parseSizes, startShapedMirrors, VERSION } from './release-bed.js'
import { describeShaping, flagValue, shapingFromEnv, startShapingProxy } from './shaping-proxy.js'

const MiB = 1024 * 1024
const started = performance.now()
const argv = process.argv.slice(2)
const net = shapingFromEnv(argv)
const num = (flag: string, fallback: number): number => {
  const raw = flagValue(argv, flag)
  const n = raw === undefined ? fallback : Number(raw)
  if (!(n >= 0)) throw new Error(`${flag}: a number >= 0, got ${JSON.stringify(raw)}`)
  return n
}
const cacheMbps = num('--cache-mbps', 48)
const cacheLink = { connBytesPerSec: cacheMbps * MiB, linkBytesPerSec: cacheMbps * MiB, upLinkBytesPerSec: num('--cache-up-mbps', 24) * MiB, rttMs: num('--cache-rtt-ms', 10), setupRtts: 2 }
const ROUNDS = Math.max(1, Math.round(num('--rounds', 3)))
const SCALE = num('--scale', 1)
const SIZES = parseSizes(flagValue(argv, '--sizes') ?? DEFAULT_SIZES)

const bed = openBed()
const { undo, cleanup } = bed

const noLog = (): void => {}
const dir = await mkdtemp(join(tmpdir(), 'ksn-bench-cache-'))
undo.push(() => rm(dir, { recursive: true, force: true }))

try {
  const { images, imageFront, fileFront, certs, config, arts } = await startShapedMirrors(bed, dir, { shaping: net, sizes: SIZES, scale: SCALE })
  const service = await startCacheService()
  const cacheFront = await startShapingProxy(new URL(service.url).host, cacheLink)
  service.setPublicUrl(`http://${cacheFront.host}`)
  undo.push(() => cacheFront.close(), () => service.close())
  // @actions/cache against the stand-in: its REST protocol (GHES's), every call through the cache's front
  delete process.env.ACTIONS_RESULTS_URL
  delete process.env.ACTIONS_CACHE_SERVICE_V2
  const runnerTemp = join(dir, 'runner-temp')
  Object.assign(process.env, { ACTIONS_CACHE_URL: `http://${cacheFront.host}/`, ACTIONS_RUNTIME_TOKEN: 'stand-in-token', GITHUB_SERVER_URL: 'https://ghes.example', RUNNER_TEMP: runnerTemp })
  // one backend for every job: an entry is bound to its path, the same in every job of a runner
  const backend = actionsCache()

  type Mode = 'cache: false' | 'cold + save' | 'warm + restore'
  interface Sample {
    fetch: number
    save?: number
    restore?: number
    entryBytes?: number
    netBytes: number
    cacheBytes: number
  }
  const samples = new Map<Mode, Sample[]>([
    ['cache: false', []],
    ['cold + save', []],
    ['warm + restore', []]
  ])
  let runs = 0

  /** one job's fetch in a fresh containerd and tool cache; `session` is the cache entry, if the cache is on */
  async function job(key: string | undefined, save: boolean): Promise<Sample> {
    const root = join(dir, `run-${runs++}`)
    await rm(runnerTemp, { recursive: true, force: true })
    await mkdir(runnerTemp, { recursive: true })
    await mkdir(join(root, 'tc'), { recursive: true })
    process.env.RUNNER_TOOL_CACHE = join(root, 'tc')
    return withContainerd(bed, root, certs, async (address) => {
      const store = containerdStore(run, { ctr: BINS.ctr2, address, hostsDir: certs })
      for (const f of [imageFront, fileFront, cacheFront]) f.takeStats()
      const t0 = performance.now()
      let session: CacheSession | undefined
      let restoreSeconds: number | undefined
      if (key) {
        session = new CacheSession(backend, backend.workDir, { ...cacheKey(config, VERSION, 'amd64'), key, restoreKeys: [] })
        await session.restore(noLog)
        if (session.warnings.length) throw new Error(session.warnings.join('; '))
        restoreSeconds = (performance.now() - t0) / 1000
      }
      // as the action: the downloads and the preload wait for the restore, then run at once
      const kube = kubernetesBinaries({ config, version: VERSION, facts: hostedRunner, arts, cache: session }, 'node-tarball')
      const archive = session?.imageArchive()
      await Promise.all([
        ...(['kubeadm', 'kubelet', 'kubectl'] as const).map((b) => kube.get(b, noLog)),
        cachedTarball(arts.crictl, { tool: 'crictl', version: 'v1.34.0', arch: 'amd64' }, noLog, session),
        cachedTarball(arts['cni-plugins'], { tool: 'cni-plugins', version: 'v1.8.0', arch: 'amd64' }, noLog, session),
        (async () => {
          if (archive) {
            const got = await importCached(store, archive, { wanted: new Set(images), users: new Set() }, (w) => session!.warnings.push(w), noLog)
            if (got.length !== images.length) throw new Error(`the entry brought ${got.length} of ${images.length} images: ${session!.warnings.join('; ')}`)
          }
          const r = await preloadImages(store, { images })
          if (archive && r.pulled.length) throw new Error(`pulled ${r.pulled.join(', ')} after a whole restore`)
        })()
      ])
      const fetch = (performance.now() - t0) / 1000
      if (session?.taken.length === 0 && archive) throw new Error('the restored downloads were not used')
      const sample: Sample = { fetch, restore: restoreSeconds, netBytes: imageFront.takeStats().bytesDown + fileFront.takeStats().bytesDown, cacheBytes: 0 }
      if (save && session) {
        // the post step: export what was pulled, list the entry, pack and upload it
        const t1 = performance.now()
        const out = entryLayout(session.dir).images
        await run(ctrArgv({ ctr: BINS.ctr2, address, hostsDir: certs }, 'images', 'export', out, ...images), { privileged: true })
        const manifest = await writeManifest(session.dir, key!, images)
        await backend.save(session.dir, key!)
        sample.save = (performance.now() - t1) / 1000
        sample.entryBytes = manifest.files.reduce((n, f) => n + f.bytes, 0)
      }
      const c = cacheFront.takeStats()
      sample.cacheBytes = c.bytesDown + c.bytesUp
      return sample
    })
  }

  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB; containerd 2.x from ${BINS.containerd2}`)
  console.log(`internet link: ${describeShaping(net)}`)
  console.log(`cache link: ${describeShaping(cacheLink)} (see the header for why)`)
  for (let round = 0; round < ROUNDS; round++) {
    const key = `bench-${round}-${Date.now()}`
    const off = await job(undefined, false)
    const cold = await job(key, true)
    const warm = await job(key, false)
    samples.get('cache: false')!.push(off)
    samples.get('cold + save')!.push(cold)
    samples.get('warm + restore')!.push(warm)
    console.log(
      `  round ${round + 1}: cache: false ${off.fetch.toFixed(2)} s; cold ${cold.fetch.toFixed(2)} s + save ${cold.save!.toFixed(2)} s (${mbOf(cold.entryBytes!)}); warm ${warm.fetch.toFixed(2)} s (restore ${warm.restore!.toFixed(2)} s)`
    )
  }

  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const of = (mode: Mode, f: (s: Sample) => number): number => median(samples.get(mode)!.map(f))
  const total = (s: Sample): number => s.fetch + (s.save ?? 0)
  console.log('')
  console.log('| job | fetch (s) | restore (s) | save in the post step (s) | job total (s) | bytes over the internet link | bytes to or from the cache |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const mode of samples.keys()) {
    const xs = samples.get(mode)!
    const cell = (f: (s: Sample) => number | undefined): string => (xs[0] && f(xs[0]) !== undefined ? of(mode, (s) => f(s)!).toFixed(2) : '–')
    console.log(`| ${mode} | ${cell((s) => s.fetch)} | ${cell((s) => s.restore)} | ${cell((s) => s.save)} | ${of(mode, total).toFixed(2)} | ${mbOf(of(mode, (s) => s.netBytes))} | ${mbOf(of(mode, (s) => s.cacheBytes))} |`)
  }
  const off = of('cache: false', total)
  const cold = of('cold + save', total)
  const warm = of('warm + restore', total)
  console.log('')
  console.log(`a warm run saves ${(off - warm).toFixed(2)} s against cache: false; a cold run costs ${(cold - off).toFixed(2)} s more than it.`)
  const breakEven = cold - off > 0 && off - warm > 0 ? (cold - off) / (off - warm) : Infinity
  console.log(
    off - warm > 0
      ? `the cache pays for itself after ${breakEven.toFixed(1)} warm runs per cold one (an entry lives 7 days unused, and a new Kubernetes patch makes a new one)`
      : 'a warm run is no faster than fetching everything: on these links the cache does not pay'
  )
} finally {
  await cleanup()
  console.log(`\nwhole run ${((performance.now() - started) / 1000).toFixed(0)} s; daemons stopped, ${dir} removed`)
}
