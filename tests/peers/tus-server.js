// lookback test peer: the tus reference server (@tus/server with
// @tus/file-store) on 127.0.0.1, uploads under /files/.
//   node tus-server.js DIR [PORT]
// @tus/server 1.x does not implement the tus checksum extension; this peer
// adds it in front of it, as the protocol describes: OPTIONS advertises
// "checksum" (sha1, sha256), a PATCH with Upload-Checksum is read whole and
// checked before the server sees it (460 Checksum Mismatch when it differs,
// and nothing is written), a PATCH cut short is dropped whole.
// GET /stats answers {"checksums": verified PATCHes, "mismatches": n,
// "patches": n}.  Prints {"port": N} once it listens.
'use strict';
const http = require('http');
const crypto = require('crypto');
const { Readable } = require('stream');
const { Server } = require('@tus/server');
const { FileStore } = require('@tus/file-store');

const [dir, port] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node tus-server.js DIR [PORT]');
  process.exit(2);
}
const tus = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) });
const stats = { checksums: 0, mismatches: 0, patches: 0 };
const ALGOS = { sha1: 'sha1', sha256: 'sha256' };

function withChecksumHeaders(res) {
  const set = res.setHeader.bind(res);
  res.setHeader = (name, value) => {
    if (String(name).toLowerCase() === 'tus-extension')
      value = String(value) + ',checksum';
    return set(name, value);
  };
  set('Tus-Checksum-Algorithm', 'sha1,sha256');
}

function checkedPatch(req, res) {
  const [algo, digest] = String(req.headers['upload-checksum']).split(' ');
  if (!ALGOS[algo] || !digest) {
    res.writeHead(400, { 'Tus-Resumable': '1.0.0' });
    res.end('unsupported checksum algorithm\n');
    return;
  }
  const chunks = [];
  let complete = false;
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => { complete = true; });
  req.on('close', () => {
    if (!complete)
      return;                   // cut short: nothing reaches the store
    const body = Buffer.concat(chunks);
    const got = crypto.createHash(ALGOS[algo]).update(body).digest('base64');
    if (got !== digest) {
      stats.mismatches++;
      res.writeHead(460, 'Checksum Mismatch', { 'Tus-Resumable': '1.0.0' });
      res.end('checksum mismatch\n');
      return;
    }
    stats.checksums++;
    const again = Readable.from([body]);
    Object.assign(again, { headers: req.headers, method: req.method, url: req.url,
      httpVersion: req.httpVersion, socket: req.socket, connection: req.socket });
    tus.handle(again, res);
  });
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  withChecksumHeaders(res);
  if (req.method === 'PATCH') {
    stats.patches++;
    if (req.headers['upload-checksum'])
      return checkedPatch(req, res);
  }
  tus.handle(req, res);
});
server.listen(Number(port || 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
