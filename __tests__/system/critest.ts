// cri-tools' critest, the CRI validation suite runtimes run to show they conform, run inside the
// booted machine against a containerd: its test images built from cri-tools' recipes with what
// Debian has and pushed to the machine's registry, its specs focused on [Conformance], the
// specs this machine cannot run skipped (each with its reason), its JSON report read back.
//
// The images (cri-tools v1.36.0, pkg/validate/consts.go and pkg/framework/util.go name them):
// - gcr.io/k8s-staging-cri-tools/test-image-{1,2,3,latest}, test-image-tags:{1,2,3} and
//   test-image-tag:{test,all}: images/image-test/Dockerfile (`FROM busybox`, `ARG TEST`,
//   `ADD ${TEST} ${TEST}`) with the build args images/build gives them (test-image-tags: one
//   build, TEST=same-image, three tags);
// - gcr.io/k8s-staging-cri-tools/test-image-user-{uid,username,uid-group,username-group}:
//   images/image-user/Dockerfile (`FROM busybox`, `ARG USER`, `USER ${USER}`), USER as
//   images/build sets it (1002, www-data, 1003:1004, www-data:1004);
// - registry.k8s.io/e2e-test-images/busybox:1.29-2 (the default container image) and
//   registry.k8s.io/e2e-test-images/nginx:1.14-2 (the web server on port 80): Kubernetes' own
//   test images, not in cri-tools' images/; here the same busybox, the second serving HTTP on
//   port 80 with busybox httpd;
// - registry.k8s.io/pause:3.9 and k8s.gcr.io/pause:3.9, one image under two registries.
// `FROM busybox:1.37.0` becomes an image made from Debian's busybox-static (every applet linked,
// /etc/passwd and /etc/group with the busybox image's users, www-data = 33), imported into the
// machine's Docker; each recipe is then built by that Docker and pushed.
import type { Machine } from './machine.js'

/** What FROM busybox stands for: Debian's busybox-static, every applet, the busybox image's users. */
export const CRITEST_BASE = 'local/critest-busybox:1'

const STAGING = 'gcr.io/k8s-staging-cri-tools'
const E2E = 'registry.k8s.io/e2e-test-images'

/** Registries critest pulls from that a run's registry-mirrors input does not name; mirrored to the machine's registry the same way. */
export const CRITEST_REGISTRIES = ['gcr.io', 'k8s.gcr.io'] as const

/**
 * Specs the focus takes in that cannot run here, with the reason; skipped alike for every
 * configuration. A spec goes here only for what the machine or the images lack, never because
 * one configuration fails it.
 */
export const CANNOT_RUN: Record<string, string> = {
  'public image with digest should be pulled and removed':
    `pulls ${STAGING}/test-image-digest@sha256:9700f9a2…, pinned by the digest of the image cri-tools pushed; an image rebuilt here has another digest`
}

/**
 * [Conformance] specs left out to keep the suite short (each critest run here takes minutes):
 * the image service's bookkeeping, which no setting the action writes touches (its registry
 * config is what the specs kept pull through: with a tag, without one, every kind of reference,
 * an image's user), and four variants of the stats listing the first stats spec covers.
 */
export const LEFT_OUT: Record<string, string> = {
  'public image should timeout if requested': 'a client-side deadline of 1 ms',
  'listImage should get exactly 3 image': 'image bookkeeping',
  'listImage should get exactly 3 repoTags': 'image bookkeeping',
  'removing image by one tag should remove all tags': 'image bookkeeping',
  'removing image from one registry should remove all tags from other registries': 'image bookkeeping',
  'should not list or get image status immediately after removal': 'image bookkeeping',
  'should list and get image status immediately after pulling': 'image bookkeeping',
  'should not fail on simultaneous RemoveImage calls': 'image bookkeeping',
  'should return the same image identifier across all APIs': 'image bookkeeping',
  'should return the same image identifier when pulled from different registries': 'image bookkeeping',
  'runtime should support listing stats for started containers [Conformance]': 'a variant of listing container stats',
  'runtime should support listing stats for started containers when filter is nil': 'a variant of listing container stats',
  'runtime should support listing stats for three created containers when filter is nil': 'a variant of listing container stats',
  'runtime should support listing stats for containers filtered by labels': 'a variant of listing container stats'
}

/** The ginkgo focus: cri-tools' [Conformance] specs. */
export const FOCUS = '\\[Conformance\\]'

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

async function buildBase(m: Machine): Promise<void> {
  if ((await m.exec(['docker', 'image', 'inspect', CRITEST_BASE])).code === 0) return
  await m.sh(`set -e
d=$(mktemp -d)
mkdir -p "$d/bin" "$d/etc" "$d/tmp" "$d/www" "$d/root" "$d/home"
chmod 1777 "$d/tmp"
cp /bin/busybox "$d/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$d/bin/$a"; done
# Debian's busybox has no pgrep applet (critest's execSync spec runs \`pgrep sleep\`): procps' own, with its libraries
if [ -x /usr/bin/pgrep ]; then
  cp /usr/bin/pgrep "$d/bin/pgrep"
  for lib in $(ldd /usr/bin/pgrep | grep -o '/[^ ]*'); do cp --parents -L "$lib" "$d"; done
fi
printf '%s\\n' 'root:x:0:0:root:/root:/bin/sh' 'daemon:x:1:1:daemon:/usr/sbin:/bin/false' 'bin:x:2:2:bin:/bin:/bin/false' 'sys:x:3:3:sys:/dev:/bin/false' 'sync:x:4:100:sync:/bin:/bin/sync' 'mail:x:8:8:mail:/var/spool/mail:/bin/false' 'www-data:x:33:33:www-data:/var/www:/bin/false' 'operator:x:37:37:Operator:/var:/bin/false' 'nobody:x:65534:65534:nobody:/home:/bin/false' > "$d/etc/passwd"
printf '%s\\n' 'root:x:0:' 'daemon:x:1:' 'bin:x:2:' 'sys:x:3:' 'adm:x:4:' 'tty:x:5:' 'disk:x:6:' 'wheel:x:10:root' 'mail:x:12:' 'www-data:x:33:' 'operator:x:37:' 'users:x:100:' 'nogroup:x:65534:' > "$d/etc/group"
echo critest > "$d/www/index.html"
tar -C "$d" -c . | docker import -c 'CMD ["sh"]' - ${CRITEST_BASE} >/dev/null
rm -rf "$d"`)
}

async function build(m: Machine, tags: string[], dockerfile: string, files: string[] = [], buildArgs: Record<string, string> = {}): Promise<void> {
  const ctx = `/tmp/ksn-critest-build-${tags[0].replace(/[^a-z0-9]+/gi, '-')}`
  await m.writeFile(`${ctx}/Dockerfile`, dockerfile)
  for (const f of files) await m.writeFile(`${ctx}/${f}`, '')
  const args = Object.entries(buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`])
  await m.run(['docker', 'build', '-q', ...args, ...tags.flatMap((t) => ['-t', t]), ctx], { env: { DOCKER_BUILDKIT: '0' } })
  await m.run(['rm', '-rf', ctx])
}

/**
 * Builds critest's images in the machine's Docker and pushes them to the registry at
 * 127.0.0.1:5000 under the paths a hosts.toml mirror asks for. Returns every name pushed.
 */
export async function pushCritestImages(m: Machine): Promise<string[]> {
  await buildBase(m)
  // pushImage builds its own tiny image: here ours is tagged under the registry's name and pushed
  const push = async (name: string): Promise<void> => {
    const ref = `127.0.0.1:5000/${name.slice(name.indexOf('/') + 1)}`
    await m.run(['docker', 'tag', name, ref])
    await m.run(['docker', 'push', '-q', ref])
    // --no-prune: the legacy builder's rmi also deletes the untagged parents, and the
    // `ARG` step's parent is the cache another worker's build is standing on right now
    await m.run(['docker', 'rmi', '--no-prune', ref, name])
  }
  type Recipe = { tags: string[]; dockerfile: string; files?: string[]; args?: Record<string, string> }
  const recipes: Recipe[] = []
  // images/image-test/Dockerfile with images/build's TEST values
  const imageTest = `FROM ${CRITEST_BASE}\nARG TEST\nADD \${TEST} \${TEST}\n`
  for (const t of ['test-image-1', 'test-image-2', 'test-image-3', 'test-image-latest']) recipes.push({ tags: [`${STAGING}/${t}:latest`], dockerfile: imageTest, files: [t], args: { TEST: t } })
  recipes.push({ tags: [1, 2, 3].map((n) => `${STAGING}/test-image-tags:${n}`), dockerfile: imageTest, files: ['same-image'], args: { TEST: 'same-image' } })
  for (const t of ['test', 'all']) recipes.push({ tags: [`${STAGING}/test-image-tag:${t}`], dockerfile: imageTest, files: [t], args: { TEST: t } })
  // images/image-user/Dockerfile with images/build's USER values
  const imageUser = `FROM ${CRITEST_BASE}\nARG USER\nUSER \${USER}\n`
  for (const [name, user] of Object.entries({ 'test-image-user-uid': '1002', 'test-image-user-username': 'www-data', 'test-image-user-uid-group': '1003:1004', 'test-image-user-username-group': 'www-data:1004' })) {
    recipes.push({ tags: [`${STAGING}/${name}:latest`], dockerfile: imageUser, args: { USER: user } })
  }
  // Kubernetes' e2e busybox, nginx (a web server on port 80) and httpd (the same, saying
  // "httpd" in its log as Apache's does when it starts), played by the same busybox
  recipes.push({ tags: [`${E2E}/busybox:1.29-2`], dockerfile: `FROM ${CRITEST_BASE}\n` })
  recipes.push({ tags: [`${E2E}/nginx:1.14-2`], dockerfile: `FROM ${CRITEST_BASE}\nEXPOSE 80\nCMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n` })
  recipes.push({ tags: [`${E2E}/httpd:2.4.39-4`], dockerfile: `FROM ${CRITEST_BASE}\nEXPOSE 80\nCMD ["sh", "-c", "echo 'httpd: busybox httpd on port 80'; exec httpd -f -v -p 80 -h /www"]\n` })
  const pushed: string[] = []
  const queue = [...recipes]
  await Promise.all(
    [0, 1, 2].map(async () => {
      for (let r = queue.shift(); r; r = queue.shift()) {
        await build(m, r.tags, r.dockerfile, r.files, r.args)
        for (const t of r.tags) await push(t)
        pushed.push(...r.tags)
      }
    })
  )
  return pushed
}

/** hosts.toml files sending CRITEST_REGISTRIES to the machine's registry, in `certsDir`. Returns the directories written. */
export async function mirrorCritestRegistries(m: Machine, certsDir: string, mirror = 'http://127.0.0.1:5000'): Promise<string[]> {
  const dirs: string[] = []
  for (const r of CRITEST_REGISTRIES) {
    const dir = `${certsDir}/${r}`
    await m.writeFile(`${dir}/hosts.toml`, `server = "https://${r}"\n\n[host."${mirror}"]\n  capabilities = ["pull", "resolve"]\n`)
    dirs.push(dir)
  }
  return dirs
}

export interface SpecResult {
  name: string
  state: 'passed' | 'failed' | 'skipped'
  /** the first lines of the failure, for failed specs */
  failure?: string
  ms: number
}

export interface CritestRun {
  label: string
  specs: SpecResult[]
  passed: number
  failed: number
  skipped: number
  ms: number
  /** critest's exit code (non-zero when a spec failed) */
  code: number
  /** the last lines of its output, for a run that produced no report */
  tail: string
}

interface GinkgoSpec {
  ContainerHierarchyTexts?: string[] | null
  LeafNodeText?: string
  LeafNodeType?: string
  State?: string
  Failure?: { Message?: string }
  /** nanoseconds */
  RunTime?: number
}

/**
 * Runs critest inside the machine against `endpoint` (unix:///…): the [Conformance] specs but
 * those in CANNOT_RUN, with a JSON report read back. `critest` is its path inside the machine.
 */
export async function runCritest(m: Machine, critest: string, endpoint: string, label: string): Promise<CritestRun> {
  const report = `/tmp/ksn-critest-${label.replace(/[^a-z0-9]+/gi, '-')}.json`
  const skip = [...Object.keys(CANNOT_RUN), ...Object.keys(LEFT_OUT)].map(escapeRe).join('|')
  const started = Date.now()
  const r = await m.exec(
    [
      critest,
      `-runtime-endpoint=${endpoint}`,
      `-image-endpoint=${endpoint}`,
      `-ginkgo.focus=${FOCUS}`,
      `-ginkgo.skip=${skip}`,
      `-ginkgo.json-report=${report}`,
      '-ginkgo.no-color',
      '-ginkgo.timeout=15m'
    ],
    { timeoutMs: 16 * 60_000, cwd: '/tmp' }
  )
  const ms = Date.now() - started
  const tail = (r.stdout + r.stderr).split('\n').slice(-40).join('\n')
  let suites: { SpecReports?: GinkgoSpec[] }[]
  try {
    suites = JSON.parse(await m.readFile(report))
  } catch {
    throw new Error(`critest (${label}) exited ${r.code} and wrote no report:\n${tail}`)
  }
  await m.exec(['rm', '-f', report])
  const specs: SpecResult[] = []
  for (const s of suites) {
    for (const spec of s.SpecReports ?? []) {
      if (spec.LeafNodeType !== 'It') continue
      const name = [...(spec.ContainerHierarchyTexts ?? []), spec.LeafNodeText ?? ''].join(' ')
      if (!new RegExp(FOCUS).test(name)) continue
      const ms = Math.round((spec.RunTime ?? 0) / 1e6)
      if (spec.State === 'passed') specs.push({ name, state: 'passed', ms })
      else if (spec.State === 'skipped' || spec.State === 'pending') {
        // ginkgo marks the specs -ginkgo.skip leaves out as skipped: LEFT_OUT ones are not counted;
        // CANNOT_RUN ones are, and so is any spec that skips itself at run time (with its reason)
        if (!Object.keys(LEFT_OUT).some((k) => name.includes(k))) specs.push({ name, state: 'skipped', ms, failure: Object.keys(CANNOT_RUN).some((k) => name.includes(k)) ? undefined : spec.Failure?.Message })
      } else specs.push({ name, state: 'failed', failure: (spec.Failure?.Message ?? spec.State ?? '').split('\n').slice(0, 6).join('\n'), ms })
    }
  }
  const count = (st: SpecResult['state']): number => specs.filter((x) => x.state === st).length
  return { label, specs, passed: count('passed'), failed: count('failed'), skipped: count('skipped'), ms, code: r.code, tail }
}

/** "passed 40, failed 2, skipped 1 (123 s)" */
export function countLine(r: CritestRun): string {
  return `${r.label}: passed ${r.passed}, failed ${r.failed}, skipped ${r.skipped} (${Math.round(r.ms / 1000)} s)`
}

/** Specs whose outcome differs between two runs, each with both outcomes. */
export function differences(a: CritestRun, b: CritestRun): string[] {
  const byName = (r: CritestRun): Map<string, SpecResult> => new Map(r.specs.map((s) => [s.name, s]))
  const A = byName(a)
  const B = byName(b)
  const out: string[] = []
  for (const name of [...new Set([...A.keys(), ...B.keys()])].sort()) {
    const x = A.get(name)?.state ?? 'absent'
    const y = B.get(name)?.state ?? 'absent'
    if (x !== y) out.push(`${name}: ${a.label} ${x}, ${b.label} ${y}${A.get(name)?.failure ? `\n    ${a.label}: ${A.get(name)!.failure!.replace(/\n/g, '\n    ')}` : ''}`)
  }
  return out
}

/** Specs the baseline passes and `candidate` does not (fails, or never ran): what must be empty. */
export function regressions(candidate: CritestRun, baseline: CritestRun): string[] {
  const got = new Map(candidate.specs.map((s) => [s.name, s]))
  return baseline.specs.filter((s) => s.state === 'passed' && got.get(s.name)?.state !== 'passed').map((s) => `${s.name}: ${got.get(s.name)?.failure ?? got.get(s.name)?.state ?? 'not run'}`)
}

