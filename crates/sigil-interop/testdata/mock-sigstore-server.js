// Serves @sigstore/mock's Fulcio, CT log, Rekor (v1) and TSA handlers over HTTP on loopback,
// so a client that is not sigstore-js can sign against them, and writes the matching
// trusted_root.json into OUTDIR before it starts listening. Fresh keys on every start.
//
// usage: node mock-sigstore-server.js PORT OUTDIR   (NODE_PATH = the npm node_modules)
// Written for sigil's interop tests after the recipe in the peers notes (reference/peers.md §5).
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const mock = require('@sigstore/mock');

const port = Number(process.argv[2]);
const outdir = process.argv[3];
const base = `http://127.0.0.1:${port}`;
const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const ecKey = () => crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

async function main() {
  const ctlog = await mock.initializeCTLog(ecKey());
  const ca = await mock.initializeCA(ecKey(), ctlog);
  const tlog = await mock.initializeTLog(base, ecKey());
  const tsa = await mock.initializeTSA(ecKey());
  const routes = [
    mock.fulcioHandler(ca, { strict: true }),
    mock.rekorHandler(tlog, { strict: true }),
    mock.tsaHandler(tsa, { strict: true }),
  ];
  // Keys valid from a minute ago: the mock signs with the current time.
  const validFor = { start: new Date(Date.now() - 60000).toISOString() };
  const logKey = Buffer.from(tlog.publicKey);
  const ctKey = Buffer.from(ctlog.publicKey);
  const root = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{
      baseUrl: base,
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(logKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor },
      logId: { keyId: b64(crypto.createHash('sha256').update(logKey).digest()) },
    }],
    certificateAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
      uri: base,
      certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
      validFor,
    }],
    ctlogs: [{
      baseUrl: `${base}/ct`,
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(ctKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor },
      logId: { keyId: b64(ctlog.logID) },
    }],
    timestampAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'sigstore-tsa' },
      uri: `${base}/api/v1/timestamp`,
      certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] },
      validFor,
    }],
  };
  fs.writeFileSync(path.join(outdir, 'trusted_root.json'), JSON.stringify(root, null, 2));

  const server = http.createServer((req, res) => {
    const body = [];
    req.on('data', (c) => body.push(c));
    req.on('end', async () => {
      const route = routes.find((r) => r.path === req.url.split('?')[0]);
      if (req.method !== 'POST' || !route) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('not found');
        return;
      }
      let text = Buffer.concat(body).toString('utf8');
      if (route.path === '/api/v2/signingCert') {
        // Fulcio also takes the token from `Authorization: Bearer`; the mock reads the body.
        const j = JSON.parse(text);
        const auth = req.headers.authorization || '';
        if (!j.credentials && auth.startsWith('Bearer ')) j.credentials = { oidcIdentityToken: auth.slice(7) };
        text = JSON.stringify(j);
      }
      const out = await route.fn(text);
      if (route.path === '/api/v2/signingCert' && out.statusCode === 201) {
        // The mock writes each PEM body on one line; Fulcio wraps at 64 columns. Clients log
        // the PEM they get, and sigstore-python compares it byte for byte with its own.
        const j = JSON.parse(out.response);
        const chain = j.signedCertificateEmbeddedSct.chain;
        chain.certificates = chain.certificates.map((pem) => {
          const body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
          return `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n`;
        });
        out.response = JSON.stringify(j);
      }
      res.writeHead(out.statusCode, { 'Content-Type': out.contentType || 'text/plain' });
      const r = out.response;
      res.end(typeof r === 'string' ? r : Buffer.from(r.buffer, r.byteOffset, r.byteLength));
      console.log(`${req.method} ${req.url} -> ${out.statusCode}`);
    });
  });
  server.listen(port, '127.0.0.1', () => console.log(`listening on ${base}`));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
