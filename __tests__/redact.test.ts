// Secrets out of the diagnostics archive (src/io/redact.ts): by key in the configuration
// files the action writes, whatever their syntax, then by value everywhere.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { REDACTED, redactConfig, redactValues, secretForms } from '../src/io/redact.js'

describe('redaction of the diagnostics archive', () => {
  it('replaces the value of every credential key in YAML, TOML and JSON, and keeps the rest', () => {
    const basic = Buffer.from('octo:dckr_pat_0123456789').toString('base64')
    const text = [
      'bootstrapTokens:',
      '- token: abcdef.0123456789abcdef',
      '  ttl: 24h0m0s',
      'certificateKey: "0123456789abcdef0123456789abcdef"',
      'automountServiceAccountToken: false',
      '[plugins."io.containerd.grpc.v1.cri".registry.configs."docker.io".auth]',
      '  username = "octo"',
      "  password = 's3cret-password'",
      '{"auths":{"docker.io":{"auth":"' + basic + '"}}}',
      '      "password": "another-password",',
      '    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0t',
      '-----BEGIN EC PRIVATE KEY-----',
      'MHcCAQEEIB',
      '-----END EC PRIVATE KEY-----',
      'secretName: my-secret',
      'kind: Secret'
    ].join('\n')
    const r = redactConfig(text)
    assert.equal(
      r.text,
      [
        'bootstrapTokens:',
        `- token: ${REDACTED}`,
        '  ttl: 24h0m0s',
        `certificateKey: "${REDACTED}"`,
        'automountServiceAccountToken: false',
        '[plugins."io.containerd.grpc.v1.cri".registry.configs."docker.io".auth]',
        '  username = "octo"',
        `  password = '${REDACTED}'`,
        `{"auths":{"docker.io":{"auth":"${REDACTED}"}}}`,
        `      "password": "${REDACTED}",`,
        `    client-key-data: ${REDACTED}`,
        `${REDACTED} private key`,
        'secretName: my-secret',
        'kind: Secret'
      ].join('\n')
    )
    // what Docker's auth decodes to: the token after USERNAME:
    assert.ok(r.found.includes('dckr_pat_0123456789'))
    assert.ok(r.found.includes('abcdef.0123456789abcdef') && r.found.includes('s3cret-password'))
  })

  it('replaces every form of a secret in any text, the longest first; short values found by key are left alone', () => {
    const forms = secretForms(['tok3n-from-input'], ['abcdef.0123456789abcdef', 'short'])
    assert.ok(forms.includes(Buffer.from('tok3n-from-input').toString('base64')))
    assert.ok(!forms.includes('short'), 'a value of fewer than 8 characters found by key would replace ordinary words')
    assert.deepEqual(forms, [...forms].sort((a, b) => b.length - a.length))
    const log = `pulled with tok3n-from-input (${Buffer.from('tok3n-from-input').toString('base64')}); join --token abcdef.0123456789abcdef; a short word`
    assert.equal(redactValues(log, forms), `pulled with ${REDACTED} (${REDACTED}); join --token ${REDACTED}; a short word`)
  })
})
