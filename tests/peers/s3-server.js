// lookback test peer: s3rver (an S3-compatible server) on 127.0.0.1, with
// every request's AWS Signature V4 checked first.
//   node s3-server.js DIR BUCKET [PORT]
// s3rver 3.7.1 checks only that the access key exists for V4 ("signature
// version 4 calculation is unimplemented"), so this peer checks the
// signature itself, with the AWS SDK's signer (@smithy/signature-v4) and
// the secret of s3rver's account (S3RVER/S3RVER): header signatures and
// presigned URLs (expiry included); a mismatch is 403 SignatureDoesNotMatch
// as S3 answers it.  Unsigned requests go through, as s3rver lets them.
// It also makes UploadPart answer only once the part is on disk (below),
// and answers ListParts and AbortMultipartUpload, which s3rver 3.7.1 lacks
// (405), from the parts s3rver keeps in its uploads folder.
// LB_S3_PEER_LOG=1 logs each part stored or cut on stderr.
// A part 2 of an object whose key holds "refuse-part-2" is refused for
// good (400 InvalidArgument), as a store refuses a part it cannot take.
// GET /__stats: {"checked": signatures checked, "refused": n, "puts":
// objects stored whole, "aborts": multipart uploads aborted}.  Prints {"port": N} on stdout once it listens; stops on SIGTERM or when
// stdin closes (the test that started it died).
'use strict';
const http = require('http');
const S3rver = require('s3rver');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Hash } = require('@smithy/hash-node');

const SECRET = 'S3RVER';

// s3rver 3.7.1 answers PutObject, UploadPart and CompleteMultipartUpload
// once it has hashed the bytes, before they are on disk: a part file can be
// read while still being written (an object stored wrong) and a GET right
// after the answer can read a short object.  S3 answers only once the bytes
// are stored; so does this peer (each file written whole, then renamed).
const crypto = require('crypto');
const fs = require('fs');
const pathMod = require('path');
const { Transform, pipeline } = require('stream');
const FilesystemStore = require('s3rver/lib/stores/filesystem');
FilesystemStore.prototype.putPart = async function putPart(bucket, uploadId, partNumber, content) {
  const partPath = pathMod.join(this.getResourcePath(bucket, undefined, 'uploads'),
    uploadId, partNumber.toString());
  await fs.promises.mkdir(pathMod.dirname(partPath), { recursive: true });
  const md5 = crypto.createHash('md5');
  let size = 0;
  const tmp = partPath + '.partial';
  await new Promise((resolve, reject) => pipeline(content,
    new Transform({ transform(chunk, enc, cb) { md5.update(chunk); size += chunk.length; cb(null, chunk); } }),
    fs.createWriteStream(tmp), (err) => (err ? reject(err) : resolve()))).catch((e) => {
      if (process.env.LB_S3_PEER_LOG) console.error(`part ${partNumber}: cut after ${size}: ${e}`);
      throw e;
    });
  await fs.promises.rename(tmp, partPath);
  if (process.env.LB_S3_PEER_LOG) console.error(`part ${partNumber}: stored ${size} (content-length ${content.headers['content-length']}, expect ${content.headers.expect}, ${content.method} ${content.url.slice(0, 60)})`);
  const digest = md5.digest('hex');
  await fs.promises.writeFile(`${partPath}.md5`, digest);
  return { size, md5: digest };
};
FilesystemStore.prototype.putObject = async function putObject(object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await fs.promises.mkdir(pathMod.dirname(objectPath), { recursive: true });
  const md5 = crypto.createHash('md5');
  let size = 0;
  const tmp = objectPath + '.partial';
  if (Buffer.isBuffer(object.content)) {
    md5.update(object.content);
    size = object.content.length;
    await fs.promises.writeFile(tmp, object.content);
  } else {
    await new Promise((resolve, reject) => pipeline(object.content,
      new Transform({ transform(chunk, enc, cb) { md5.update(chunk); size += chunk.length; cb(null, chunk); } }),
      fs.createWriteStream(tmp), (err) => (err ? reject(err) : resolve())));
  }
  await fs.promises.rename(tmp, objectPath);
  const digest = md5.digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
};

function decode(s) {
  return decodeURIComponent(s);
}

function parseTarget(url) {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = {};
  if (q >= 0)
    for (const part of url.slice(q + 1).split('&')) {
      if (!part)
        continue;
      const eq = part.indexOf('=');
      const n = decode(eq < 0 ? part : part.slice(0, eq));
      query[n] = eq < 0 ? '' : decode(part.slice(eq + 1));
    }
  return { path, query };
}

function amzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
  return m ? new Date(Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : null;
}

// The signature the request should carry, or null when it is not signed.
async function expected(req) {
  const { path, query } = parseTarget(req.url);
  const authz = req.headers.authorization || '';
  const presigned = 'X-Amz-Signature' in query;
  let cred, signedHeaders, given;
  if (authz.startsWith('AWS4-HMAC-SHA256 ')) {
    const f = Object.fromEntries(authz.slice(17).split(',').map((x) => {
      const i = x.indexOf('=');
      return [x.slice(0, i).trim(), x.slice(i + 1).trim()];
    }));
    cred = f.Credential; signedHeaders = f.SignedHeaders; given = f.Signature;
  } else if (presigned) {
    cred = query['X-Amz-Credential']; signedHeaders = query['X-Amz-SignedHeaders'];
    given = query['X-Amz-Signature'];
  } else {
    return null;
  }
  const [akid, , region, service] = String(cred).split('/');
  const headers = {};
  for (const h of String(signedHeaders).split(';'))
    headers[h] = req.headers[h];
  const token = presigned ? query['X-Amz-Security-Token'] : req.headers['x-amz-security-token'];
  const signer = new SignatureV4({
    credentials: { accessKeyId: akid, secretAccessKey: SECRET, sessionToken: token },
    region, service, sha256: Hash.bind(null, 'sha256'), uriEscapePath: false,
    applyChecksum: false,
  });
  const request = { method: req.method, protocol: 'http:', hostname: '127.0.0.1', path, query, headers };
  if (presigned) {
    const when = amzDate(query['X-Amz-Date']);
    const expires = Number(query['X-Amz-Expires']);
    if (!when || when.getTime() + expires * 1000 < Date.now())
      return { given, want: 'expired' };
    for (const k of Object.keys(query))
      if (k.startsWith('X-Amz-'))
        delete query[k];
    headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
    const signed = await signer.presign(request, {
      signingDate: when, expiresIn: expires,
      unsignableHeaders: new Set(['x-amz-content-sha256']),
      unhoistableHeaders: new Set(Object.keys(headers)),
    });
    return { given, want: signed.query['X-Amz-Signature'] };
  }
  const signed = await signer.sign(request, { signingDate: amzDate(req.headers['x-amz-date']) });
  const m = /Signature=([0-9a-f]+)/.exec(signed.headers.authorization);
  return { given, want: m && m[1] };
}

function refuse(res, stats) {
  stats.refused++;
  res.writeHead(403, { 'Content-Type': 'application/xml' });
  res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>' +
    '<Message>The request signature we calculated does not match the signature you ' +
    'provided. Check your key and signing method.</Message></Error>');
}

function refusedPart(req) {
  return req.method === 'PUT' && /[?&]partNumber=2(&|$)/.test(req.url)
    && /[?&]uploadId=/.test(req.url) && req.url.includes('refuse-part-2');
}

function refusePart(res) {
  res.writeHead(400, { 'Content-Type': 'application/xml', Connection: 'close' });
  res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidArgument</Code>' +
    '<Message>This part is refused.</Message></Error>');
}

function xmlEscape(t) {
  return String(t).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function noSuchUpload(res) {
  res.writeHead(404, { 'Content-Type': 'application/xml' });
  res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code>' +
    '<Message>The specified upload does not exist.</Message></Error>');
}

// The folder s3rver keeps an upload's parts in (PATH /bucket/key?uploadId=).
function uploadDir(store, url) {
  const { path, query } = parseTarget(url);
  const bucketName = decode(path.split('/')[1] || '');
  if (!/^[0-9a-f]+$/.test(query.uploadId || ''))
    return null;
  return pathMod.join(store.getResourcePath(bucketName, undefined, 'uploads'), query.uploadId);
}

// ListParts: every stored part (a part being written is a ".partial"), at
// most max-parts (default 1000) after part-number-marker.
async function listParts(store, req, res) {
  const dirOf = uploadDir(store, req.url);
  const { path, query } = parseTarget(req.url);
  let names;
  try {
    names = await fs.promises.readdir(dirOf);
  } catch (e) {
    return noSuchUpload(res);
  }
  const marker = Number(query['part-number-marker'] || 0);
  const max = Number(query['max-parts'] || 1000);
  const numbers = names.filter((n) => /^\d+$/.test(n)).map(Number)
    .filter((n) => n > marker).sort((a, b) => a - b);
  const shown = numbers.slice(0, max);
  let parts = '';
  for (const n of shown) {
    const st = await fs.promises.stat(pathMod.join(dirOf, String(n)));
    const md5 = await fs.promises.readFile(pathMod.join(dirOf, `${n}.md5`), 'utf8');
    parts += `<Part><PartNumber>${n}</PartNumber><ETag>&quot;${md5}&quot;</ETag>` +
      `<Size>${st.size}</Size></Part>`;
  }
  const truncated = numbers.length > shown.length;
  res.writeHead(200, { 'Content-Type': 'application/xml' });
  res.end('<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult>' +
    `<Key>${xmlEscape(decode(path.split('/').slice(2).join('/')))}</Key>` +
    `<UploadId>${query.uploadId}</UploadId><PartNumberMarker>${marker}</PartNumberMarker>` +
    `<NextPartNumberMarker>${shown.length ? shown[shown.length - 1] : marker}</NextPartNumberMarker>` +
    `<MaxParts>${max}</MaxParts><IsTruncated>${truncated}</IsTruncated>${parts}</ListPartsResult>`);
}

// AbortMultipartUpload: the parts are dropped.
async function abortUpload(store, req, res) {
  const dirOf = uploadDir(store, req.url);
  if (!dirOf || !fs.existsSync(dirOf))
    return noSuchUpload(res);
  await fs.promises.rm(dirOf, { recursive: true, force: true });
  res.writeHead(204);
  res.end();
}

const [dir, bucket, port] = process.argv.slice(2);
if (!dir || !bucket) {
  console.error('usage: node s3-server.js DIR BUCKET [PORT]');
  process.exit(2);
}
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port || 0),
  directory: dir,
  silent: true,
  configureBuckets: [{ name: bucket }],
});
const stats = { checked: 0, refused: 0, puts: 0, aborts: 0 };
server.configureBuckets().then(() => {
  const app = server.callback();
  const handle = (req, res) => {
    if (req.method === 'GET' && req.url === '/__stats') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(stats));
      return;
    }
    expected(req).then((sig) => {
      if (sig) {
        stats.checked++;
        if (!sig.want || sig.want !== sig.given)
          return refuse(res, stats);
      }
      const upload = /[?&]uploadId=/.test(req.url);
      if (refusedPart(req)) {   // without Expect: once the body is read
        req.resume();
        req.on('end', () => refusePart(res));
        return;
      }
      // whole objects stored (PutObject, CompleteMultipartUpload), aborts
      res.on('finish', () => {
        const whole = (req.method === 'PUT' && !upload)
          || (req.method === 'POST' && upload);
        if (whole && res.statusCode === 200)
          stats.puts++;
        if (req.method === 'DELETE' && upload && res.statusCode === 204)
          stats.aborts++;
      });
      const fail = (e) => { res.writeHead(500); res.end(String(e)); };
      if (upload && req.method === 'GET')
        return listParts(server.store, req, res).catch(fail);
      if (upload && req.method === 'DELETE')
        return abortUpload(server.store, req, res).catch(fail);
      app(req, res);
    }, () => refuse(res, stats));
  };
  const front = http.createServer(handle);
  // Expect: 100-continue: a refused part is answered before its body, as S3
  // does; anything else is told to go on.
  front.on('checkContinue', (req, res) => {
    if (refusedPart(req))
      return refusePart(res);
    res.writeContinue();
    handle(req, res);
  });
  front.listen(Number(port || 0), '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: front.address().port }) + '\n');
  });
}, (err) => {
  console.error('s3-server:', err.message);
  process.exit(1);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
