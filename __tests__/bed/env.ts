// What the bed needs, and a plain message naming what is missing when it cannot run.
import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'

export const CONTAINERD2_DIR = process.env.KSN_CONTAINERD2_DIR ?? '/opt/ksn-containerd2'

export const BINS = {
  containerd1: '/usr/bin/containerd',
  ctr1: '/usr/bin/ctr',
  containerd2: join(CONTAINERD2_DIR, 'usr/bin/containerd'),
  ctr2: join(CONTAINERD2_DIR, 'usr/bin/ctr'),
  dockerd: '/usr/sbin/dockerd',
  registry: '/usr/bin/docker-registry',
  skopeo: '/usr/bin/skopeo',
  /** bcrypt lines for the registry's basic auth (apache2-utils) */
  htpasswd: '/usr/bin/htpasswd'
}

function onPath(bin: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => existsSync(join(d, bin)))
}

/** false when the bed can run; otherwise why not, and how to get there. */
export function bedUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'the real-daemon test bed needs root (run `sudo bash .ci/run`, or as root `npm test`)'
  const missing = Object.entries(BINS).filter(([, p]) => !existsSync(p)).map(([k, p]) => `${k} (${p})`)
  for (const b of ['runc', 'docker']) if (!onPath(b)) missing.push(b)
  if (missing.length) {
    return `the real-daemon test bed is missing ${missing.join(', ')}: install Debian's containerd runc docker.io docker-registry skopeo apache2-utils and run scripts/fetch-containerd2.sh ${CONTAINERD2_DIR} (.ci/run does both)`
  }
  return false
}
