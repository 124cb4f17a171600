// Copied from the project's shared peer scripts (shared/peers/mock-sigstore-server.js, written for this
// project, see shared/reference/peers.md §5); used unchanged as the peer of bench/ca/run.sh.
// Real loopback HTTP server around @sigstore/mock's handlers (which normally
// run in-process through `nock`).  Serves:
//   POST /api/v2/signingCert   (mock Fulcio; does NOT verify the OIDC JWT signature,
//                               SAN = JWT `sub`, issuer ext = JWT `iss`)
//   POST /api/v1/log/entries   (mock Rekor v1, hashedrekord/dsse, SET + 1-leaf inclusion proof)
//   POST /api/v2/log/entries   (mock Rekor v2)
//   POST /api/v1/timestamp     (mock TSA: JSON request {artifactHash,hashAlgorithm,certificates,nonce},
//                               DER RFC 3161 TimeStampResp reply)
// and writes <outdir>/trusted_root.json, <outdir>/signing_config.json,
// <outdir>/client_trust_config.json  (sigstore-python --trust-config format).
//
// usage: node mock-sigstore-server.js [port=8480] [outdir=.]
const http = require('http');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const mock = require('@sigstore/mock');

const port = parseInt(process.argv[2] || '8480', 10);
const outdir = process.argv[3] || '.';
const base = `http://127.0.0.1:${port}`;

function kp() {
  return crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

(async () => {
  const ctKeys = kp(), caKeys = kp(), tlKeys = kp(), tsaKeys = kp();
  const ctlog = await mock.initializeCTLog(ctKeys);
  const ca = await mock.initializeCA(caKeys, ctlog);
  const tlog = await mock.initializeTLog(base, tlKeys);
  const tsa = await mock.initializeTSA(tsaKeys);
  const handlers = [
    mock.fulcioHandler(ca, { strict: true }),
    mock.rekorHandler(tlog, { strict: true }),
    mock.rekorV2Handler(tlog, { strict: true }),
    mock.tsaHandler(tsa, { strict: true }),
  ];

  const b64 = (b) => Buffer.from(b).toString('base64');
  const start = new Date(Date.now() - 60 * 1000).toISOString();
  const keyId = (der) => b64(crypto.createHash('sha256').update(der).digest());
  const tlogPub = Buffer.from(tlog.publicKey);
  const ctPub = Buffer.from(ctlog.publicKey);
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{
      baseUrl: base,
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(tlogPub), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
      logId: { keyId: keyId(tlogPub) },
    }],
    certificateAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
      uri: base,
      certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
      validFor: { start },
    }],
    ctlogs: [{
      baseUrl: base + '/ct',
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(ctPub), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
      logId: { keyId: b64(Buffer.from(ctlog.logID)) },
    }],
    timestampAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'sigstore-tsa' },
      uri: base + '/api/v1/timestamp',
      certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] },
      validFor: { start },
    }],
  };
  const svc = (url, v) => ({ url, majorApiVersion: v, validFor: { start }, operator: 'sigstore.mock' });
  const signingConfig = {
    mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
    caUrls: [svc(base, 1)],
    oidcUrls: [svc(base + '/oidc', 1)],
    rekorTlogUrls: [svc(base, 1)],
    tsaUrls: [],
    rekorTlogConfig: { selector: 'ANY' },
    tsaConfig: { selector: 'ANY' },
  };
  const clientTrustConfig = {
    mediaType: 'application/vnd.dev.sigstore.clienttrustconfig.v0.1+json',
    trustedRoot,
    signingConfig,
  };
  fs.writeFileSync(path.join(outdir, 'trusted_root.json'), JSON.stringify(trustedRoot, null, 2));
  fs.writeFileSync(path.join(outdir, 'signing_config.json'), JSON.stringify(signingConfig, null, 2));
  fs.writeFileSync(path.join(outdir, 'client_trust_config.json'), JSON.stringify(clientTrustConfig, null, 2));

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const h = handlers.find((x) => x.path === req.url.split('?')[0]);
      const body = Buffer.concat(chunks);
      if (req.method !== 'POST' || !h) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('not found');
        console.log(`${req.method} ${req.url} -> 404`);
        return;
      }
      // all handlers take the request body as text (the TSA mock expects sigstore-js's
      // JSON timestamp request, not a DER RFC 3161 TimeStampReq)
      let arg = body.toString('utf8');
      if (h.path === '/api/v2/signingCert') {
        // Real Fulcio also accepts the token as "Authorization: Bearer" and the CSR as
        // base64(PEM) (what sigstore-python sends); the mock only knows the in-body forms.
        const j = JSON.parse(arg);
        const auth = req.headers['authorization'] || '';
        if (!j.credentials && auth.startsWith('Bearer ')) j.credentials = { oidcIdentityToken: auth.slice(7) };
        if (j.certificateSigningRequest && !j.certificateSigningRequest.includes('-----BEGIN')) {
          j.certificateSigningRequest = Buffer.from(j.certificateSigningRequest, 'base64').toString('utf8');
        }
        arg = JSON.stringify(j);
      }
      const r = await h.fn(arg);
      if (h.path === '/api/v2/signingCert' && r.statusCode === 201) {
        // The mock emits PEM with the base64 on ONE line; real Fulcio wraps at 64 chars.
        // sigstore-js copies that PEM into the Rekor hashedrekord body and sigstore-python
        // compares it byte-for-byte with its own 64-col PEM -> "inconsistent" unless rewrapped.
        const j = JSON.parse(r.response);
        const wrap = (pem) => pem.replace(/-----BEGIN CERTIFICATE-----\n?([A-Za-z0-9+/=\s]+?)\n?-----END CERTIFICATE-----\n?/g,
          (_, b) => '-----BEGIN CERTIFICATE-----\n' + b.replace(/\s+/g, '').match(/.{1,64}/g).join('\n') + '\n-----END CERTIFICATE-----\n');
        const c = j.signedCertificateEmbeddedSct.chain;
        c.certificates = c.certificates.map(wrap);
        r.response = JSON.stringify(j);
      }
      res.writeHead(r.statusCode, { 'Content-Type': r.contentType || 'text/plain' });
      res.end(typeof r.response === 'string' ? r.response : Buffer.from(r.response.buffer, r.response.byteOffset, r.response.byteLength));
      console.log(`${req.method} ${req.url} -> ${r.statusCode}` + (r.statusCode >= 400 ? ' ' + r.response : ''));
    });
  });
  server.listen(port, '127.0.0.1', () => console.log(`mock sigstore listening on ${base}; pid ${process.pid}`));
})();
