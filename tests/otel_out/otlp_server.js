'use strict';
// otlp_server.js — a real OTLP/HTTP receiver for the tests: @elastic/mockotlpserver (pinned in
// package-lock.json) on a free port of 127.0.0.1, HTTP only. Every trace request it decodes is
// printed as one line of JSON (its normalizeTrace form: attributes as {key: value}) on standard
// output. Its listening URL is written to the file named by the first argument once it listens.
// Its HTTP status codes are not trusted by the tests: only what it prints counts.
const fs = require('node:fs');
const {MockOtlpServer, normalizeTrace} = require('@elastic/mockotlpserver');

const urlFile = process.argv[2];
const server = new MockOtlpServer({
  services: ['http'],
  httpHostname: '127.0.0.1',
  httpPort: 0,
  logLevel: 'warn',
  onTrace: (trace) => {
    process.stdout.write(JSON.stringify(normalizeTrace(trace)) + '\n');
  },
});
server.start().then(() => {
  fs.writeFileSync(urlFile + '.tmp', String(server.httpUrl).replace(/\/$/, ''));
  fs.renameSync(urlFile + '.tmp', urlFile);
});
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
