#!/usr/bin/env node
// sink.js — a stand-in OTLP/HTTP endpoint for the --forward test: every POST body is saved
// as DIR/N.json or DIR/N.pb (by Content-Type) and answered 200 with an empty
// ExportTraceServiceResponse. Prints `listening PORT` once it accepts connections. With
// HEADERS, the Authorization and X-Scope-OrgID headers of every request are appended to that
// file as a line of JSON (for the --forward-header test).
//
//   node sink.js DIR [HEADERS]
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const dir = process.argv[2];
const headersFile = process.argv[3];
let n = 0;
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (headersFile)
      fs.appendFileSync(headersFile, JSON.stringify({ authorization: req.headers.authorization,
        scope: req.headers['x-scope-orgid'], ct: req.headers['content-type'] }) + '\n');
    const json = String(req.headers['content-type'] || '').startsWith('application/json');
    const file = path.join(dir, String(++n).padStart(4, '0') + (json ? '.json' : '.pb'));
    fs.writeFileSync(file + '.tmp', Buffer.concat(chunks));
    fs.renameSync(file + '.tmp', file);
    res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
    res.end(json ? '{}' : '');
  });
});
server.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
