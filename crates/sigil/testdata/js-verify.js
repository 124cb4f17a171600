// Copied from bench/keyless/js-verify.js for crates/sigil/tests/sigstore_js_stack.rs.
// Offline bundle verification with sigstore-js's verifier (@sigstore/verify, as the `sigstore`
// package's verify() uses it) against a trusted_root.json, one process per verification.
// usage: node js-verify.js BUNDLE TRUSTED_ROOT ARTIFACT SAN ISSUER   (NODE_PATH = node_modules)
'use strict';
const fs = require('fs');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

const [bundlePath, rootPath, artifactPath, san, issuer] = process.argv.slice(2);
const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
const trust = toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(rootPath, 'utf8'))));
const verifier = new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 1 });
try {
  verifier.verify(toSignedEntity(bundle, fs.readFileSync(artifactPath)), {
    subjectAlternativeName: san,
    extensions: { issuer },
  });
} catch (e) {
  console.error('sigstore-js verify failed:', e.code || '', e.message);
  process.exit(1);
}
