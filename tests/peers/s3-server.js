// lookback test peer: s3rver (an S3-compatible server that checks SigV4
// signatures) on 127.0.0.1.
//   node s3-server.js DIR BUCKET [PORT]
// Prints {"port": N} on stdout once it listens; stops on SIGTERM or when
// stdin closes (the test that started it died).
'use strict';
const S3rver = require('s3rver');

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
server.run().then((addr) => {
  process.stdout.write(JSON.stringify({ port: addr.port }) + '\n');
}, (err) => {
  console.error('s3-server:', err.message);
  process.exit(1);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
