// A Reporter that keeps what a command says as lines, for tests that read it back.
import type { Reporter } from '../../src/io/reporter.js'

export function linesReporter(lines: string[]): Reporter {
  return {
    info: (m) => void lines.push(m),
    warning: (m) => void lines.push(`warning: ${m}`),
    block: (t, b) => void lines.push(`== ${t}`, ...b),
    start: () => {},
    stepEnded: () => {},
    flush: () => {},
    setOutput: () => {},
    exportVariable: () => {},
    addPath: () => {},
    summary: async () => {}
  }
}
