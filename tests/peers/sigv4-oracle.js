// lookback test peer: the AWS SDK for JavaScript's SigV4 signer
// (@smithy/signature-v4) as an independent oracle.  One JSON request per
// line on stdin, one JSON answer per line on stdout:
//   {"key": {"accessKeyId", "secretAccessKey", "sessionToken"?, "region",
//            "service"},
//    "time": unix seconds, "method", "host", "path" (decoded),
//    "query": [[name, value], ...] (decoded), "headers": {name: value},
//    "payloadHash" (for presign too: UNSIGNED-PAYLOAD for S3),
//    "presign": bool, "expires": seconds}
//   → {"authorization": "..."} or {"query": {name: value, ...}}
'use strict';
const readline = require('readline');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Hash } = require('@smithy/hash-node');
// RFC 3986 escaping as the SDK's own escapeUri does it
const escapeUri = (s) => encodeURIComponent(s).replace(/[!'()*]/g,
  (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

async function sign(r) {
  const signer = new SignatureV4({
    credentials: r.key,
    region: r.key.region,
    service: r.key.service,
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: r.key.service !== 's3',
    applyChecksum: false,
  });
  const query = {};
  for (const [n, v] of r.query || [])
    query[n] = n in query ? [].concat(query[n], v) : v;
  const headers = Object.assign({ host: r.host }, r.headers || {});
  // S3 signs the path as sent: encoded once, here by the oracle
  const path = r.key.service === 's3'
    ? r.path.split('/').map(escapeUri).join('/') : r.path;
  const request = {
    method: r.method, protocol: 'http:', hostname: r.host.split(':')[0],
    path, query, headers,
  };
  if (r.payloadHash)
    request.headers['x-amz-content-sha256'] = r.payloadHash;
  const when = new Date(r.time * 1000);
  if (r.presign) {
    // S3 presigns with UNSIGNED-PAYLOAD: the hash is given, not signed as a
    // header, and not moved into the query
    const signed = await signer.presign(request, {
      signingDate: when, expiresIn: r.expires,
      unsignableHeaders: new Set(['x-amz-content-sha256']),
      unhoistableHeaders: new Set(Object.keys(headers).map((h) => h.toLowerCase())),
    });
    return { query: signed.query };
  }
  const signed = await signer.sign(request, { signingDate: when });
  return { authorization: signed.headers.authorization };
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  try {
    process.stdout.write(JSON.stringify(await sign(JSON.parse(line))) + '\n');
  } catch (err) {
    process.stdout.write(JSON.stringify({ error: String(err && err.stack || err) }) + '\n');
  }
});
