// Keyless signing with sigstore-js (the `sigstore` npm package's sign(): ephemeral key, Fulcio
// certificate, Rekor v1 entry, bundle v0.2), one process per signature.
// usage: node js-sign.js FULCIO_URL REKOR_URL FILE OUT TOKEN   (NODE_PATH = node_modules)
'use strict';
const fs = require('fs');
const sigstore = require('sigstore');

const [fulcioURL, rekorURL, file, out, identityToken] = process.argv.slice(2);
sigstore
  .sign(fs.readFileSync(file), { fulcioURL, rekorURL, identityToken })
  .then((bundle) => fs.writeFileSync(out, JSON.stringify(bundle)))
  .catch((e) => {
    console.error('sigstore-js sign failed:', e.code || '', e.message, e.cause ? String(e.cause) : '');
    process.exit(1);
  });
