// Signs FILE with sigstore-js (the `sigstore` npm package) against one base URL serving
// Fulcio, Rekor and a TSA (the @sigstore/mock server), and writes the bundle JSON to OUT.
// usage: node js-sign.js BASE_URL FILE OUT TOKEN [--no-tsa]    (NODE_PATH = npm node_modules)
'use strict';
const fs = require('fs');
const sigstore = require('sigstore');

const [base, file, out, token, flag] = process.argv.slice(2);
const options = { fulcioURL: base, rekorURL: base, identityToken: token };
if (flag !== '--no-tsa') options.tsaServerURL = base;
sigstore
  .sign(fs.readFileSync(file), options)
  .then((bundle) => fs.writeFileSync(out, JSON.stringify(bundle)))
  .catch((e) => {
    console.error('sigstore-js sign failed:', e.code || '', e.message, e.cause ? String(e.cause) : '');
    process.exit(1);
  });
