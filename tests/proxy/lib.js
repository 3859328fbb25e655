// lib.js — what the node test scripts of tests/proxy (journal.js, features.js, kill9.js)
// share: processes whose output is kept, waiting for a line of it, free ports, a proxy
// started and ready.
'use strict';
const { spawn } = require('node:child_process');
const net = require('node:net');

// cmd with its stdout and stderr collected in .log; .done resolves with its exit status
function spawnLogged(cmd, args, env) {
  const p = spawn(cmd, args,
    { stdio: ['ignore', 'pipe', 'pipe'], env: Object.assign({}, process.env, env || {}) });
  p.log = '';
  p.stdout.on('data', (d) => { p.log += d; });
  p.stderr.on('data', (d) => { p.log += d; });
  p.done = new Promise((r) => p.once('exit', (code) => r(code)));
  return p;
}

// the first match of re in a spawnLogged process's output, within ms
function waitLine(proc, re, ms) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout waiting for ' + re + ': ' + proc.log)), ms);
    const on = () => {
      const m = proc.log.match(re);
      if (m) { clearTimeout(t); resolve(m); }
    };
    proc.stdout.on('data', on);
    proc.stderr.on('data', on);
    on();
  });
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// `airi proxy ARGS`, once it says it is listening (rejects if it exits first)
async function startProxy(airi, args, env) {
  const p = spawnLogged(airi, ['proxy'].concat(args), env);
  await Promise.race([waitLine(p, /listening on/, 10000),
    p.done.then((c) => { throw new Error('proxy exited ' + c + ': ' + p.log); })]);
  return p;
}

module.exports = { spawnLogged, waitLine, freePort, startProxy };
