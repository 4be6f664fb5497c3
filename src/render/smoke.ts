// The smoke test's objects: an nginx Deployment and a NodePort Service, applied as one
// manifest so that a re-run is idempotent.
import { toYamlDocuments } from './yaml.js'

export function renderSmokeManifest(name: string, namespace: string, image: string, tolerations: object[] = []): string {
  const labels = { app: name }
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          ...(tolerations.length > 0 ? { tolerations } : {}),
          containers: [
            {
              name: 'nginx',
              image,
              // preloaded before init: never pull again
              imagePullPolicy: 'IfNotPresent',
              ports: [{ containerPort: 80 }],
              readinessProbe: { httpGet: { path: '/', port: 80 }, periodSeconds: 1 }
            }
          ]
        }
      }
    }
  }
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels },
    spec: { type: 'NodePort', selector: labels, ports: [{ port: 80, targetPort: 80, protocol: 'TCP' }] }
  }
  return toYamlDocuments([deployment, service])
}
