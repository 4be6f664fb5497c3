// One way to write the YAML the action renders. The yaml library turns an object that
// appears twice (a Deployment's labels reused as its selector) into an anchor and an
// alias; kubectl reads those, but a user reading the plan or a manifest should not have to.
import { stringify } from 'yaml'

/** One YAML document, with every repeated object written out in full. */
export function toYaml(value: unknown): string {
  return stringify(value, { aliasDuplicateObjects: false })
}

/** Several documents joined as one multi-document manifest. */
export function toYamlDocuments(values: unknown[]): string {
  return values.map(toYaml).join('---\n')
}
