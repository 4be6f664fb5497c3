// What the Docker runtime cannot do with other inputs, refused with the inputs before anything
// changes (src/inputs/parse.ts asks every runtime through RuntimeDriver.inputProblems).
import type { RuntimeInputs } from '../types.js'

export function dockerInputProblems(c: RuntimeInputs): string[] {
  const problems: string[] = []
  if (c.loadImages.length) {
    // docker save, then docker load into the same Docker: a copy of each image onto itself
    problems.push(
      "Inputs 'load-images' and 'container-runtime' ('docker') do not go together: load-images copies images from this host's Docker into the runtime's store, and with Docker as the runtime that store is the same Docker, where the kubelet already finds them; accepted: load-images with container-runtime 'containerd', or container-runtime 'docker' and no load-images (pods use Docker's images by name)."
    )
  }
  if (c.registryCredentials.length) {
    // the preload's docker pulls run as root, whose Docker client reads root's config.json,
    // and the kubelet would need its own: neither is written yet
    problems.push(
      "Inputs 'registry-credentials' and 'container-runtime' ('docker') do not go together yet: the credentials are written for containerd and for the runner user's Docker client, but with Docker as the runtime the pulls are root's and the kubelet's. Accepted: registry-credentials with container-runtime 'containerd', or `sudo docker login` before the action."
    )
  }
  return problems
}
