// Stand-ins for what cannot be downloaded or built here (kubeadm, kubelet, kubectl, flannel's
// manifest): files under __tests__/system/standins/, each saying at its top that it is a
// stand-in. kubeadm, kubelet and kubectl are bash and append their argv to
// /var/log/ksn-standins.log inside the machine. crictl is not among them: the machine gets
// cri-tools' real crictl (cri-tools.ts).
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { crictlBinary } from './cri-tools.js'
import type { Machine } from './machine.js'

export const STANDIN_DIR = join(import.meta.dirname, 'standins')
export const FLANNEL_MANIFEST = join(STANDIN_DIR, 'kube-flannel.yml')
export const STANDIN_LOG = '/var/log/ksn-standins.log'
export const K8S_VERSION = 'v1.34.2'

/** The images kubeadm v1.34.2 names, as the kubeadm stand-in prints them. */
export { KUBEADM_IMAGES } from '../helpers/facts.js'

export type StandinName = 'kubeadm' | 'kubelet' | 'kubectl'

/** The stand-ins' contents by binary name, for serving from the release mirror. */
export async function standins(): Promise<Record<StandinName, string>> {
  const read = (n: string): Promise<string> => readFile(join(STANDIN_DIR, n), 'utf8')
  return { kubeadm: await read('kubeadm'), kubelet: await read('kubelet'), kubectl: await read('kubectl') }
}

/** Installs the stand-ins straight into the machine's /usr/local/bin (for tests that do not go through the action). */
export async function installStandins(m: Machine, names: StandinName[] = ['kubeadm', 'kubelet', 'kubectl']): Promise<void> {
  const s = await standins()
  for (const n of names) await m.writeFile(`/usr/local/bin/${n}`, s[n], { mode: 0o755 })
}

/** Installs the real crictl (cri-tools.ts) straight into the machine's /usr/local/bin. */
export async function installCrictl(m: Machine): Promise<void> {
  await m.writeFile('/usr/local/bin/crictl', crictlBinary(), { mode: 0o755 })
}

/** The stand-ins' log, one call a line: "<time> <name> <argv>". */
export async function standinCalls(m: Machine): Promise<string[]> {
  const text = await m.readFile(STANDIN_LOG).catch(() => '')
  return text.split('\n').filter(Boolean)
}
