'use strict';

// s3rver for the s3 sink's tests, configured from the environment:
//   S3_PORT, S3_DIRECTORY (kept across restarts), S3_BUCKET (created at start),
//   S3_ACCESS_KEY / S3_SECRET_KEY (the only key pair: s3rver's built-in S3RVER pair is revoked, so another access key
//   fails with 403 InvalidAccessKeyId as on S3; s3rver does not check SigV4 signatures themselves),
//   S3_MAX_OBJECT_BYTES: PUTs larger than this are answered 400 EntityTooLarge, S3's answer past its 5 GiB limit,
//   scaled down so a test can make the store refuse one record for good.
// Prints "listening <port>" once it accepts connections. Stopped with a signal.

const S3rver = require('s3rver');
const AWSAccount = require('s3rver/lib/models/account');

const env = name => {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return value;
};

const port = Number(env('S3_PORT'));
const maxObjectBytes = Number(process.env.S3_MAX_OBJECT_BYTES || 0);
AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
AWSAccount.DUMMY_ACCOUNT.createKeyPair(env('S3_ACCESS_KEY'), env('S3_SECRET_KEY'));

const server = new S3rver({
  address: '127.0.0.1',
  port,
  directory: env('S3_DIRECTORY'),
  silent: true,
  resetOnClose: false,
  vhostBuckets: false,
  configureBuckets: [{ name: env('S3_BUCKET'), configs: [] }],
});

// Ahead of s3rver's own middleware (Koa composes the list when the server starts listening).
server.middleware.unshift(async (ctx, next) => {
  const length = Number(ctx.get('content-length') || 0);
  if (ctx.method === 'PUT' && maxObjectBytes > 0 && length > maxObjectBytes) {
    ctx.status = 400;
    ctx.type = 'application/xml';
    ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>EntityTooLarge</Code>' +
      '<Message>Your proposed upload exceeds the maximum allowed size</Message>' +
      `<ProposedSize>${length}</ProposedSize><MaxSizeAllowed>${maxObjectBytes}</MaxSizeAllowed></Error>`;
    return;
  }
  await next();
});

server.run((err, address) => {
  if (err) {
    console.error(`s3rver failed to start: ${err.message}`);
    process.exit(1);
  }
  console.log(`listening ${address.port}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
