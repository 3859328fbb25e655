// kill9.js — nothing acknowledged is lost: drives `airi proxy` with concurrent chat
// completions (plain and streamed), kills it with SIGKILL in the middle of the load,
// restarts it on the same store, and checks that every run whose identity reached a client
// (an Airi-Run-Id header on a complete plain reply, or the identity chunk of a stream) is in
// the store, and that the store passes fsck.
//
//   node kill9.js AIRI_BIN [--journal]
// With --journal the proxy runs with an acknowledgement journal (--journal FILE): its replies
// wait for the journal's write, not the store's commit, and the restart must record what the
// journal holds: the first proxy gathers the journal's runs for 3 s before it records them
// (AIRI_JOURNAL_GATHER_MS), so that when it is killed acknowledged runs are in the journal
// only; the test checks that some are missing from the store then, and none after the restart.
// Exit status: 0 pass, 1 fail. Uses fake_upstream.js from this directory.
'use strict';
const { execFileSync } = require('node:child_process');
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnLogged, waitLine, freePort, startProxy: startProxyWith } = require('./lib.js');

const airi = path.resolve(process.argv[2] || path.join(__dirname, '../../build/airi'));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'airi-kill9-'));
// AIRI_KILL9_STORE: another store location (tests/pg/journal.sh gives a PostgreSQL one)
const store = process.env.AIRI_KILL9_STORE || path.join(work, 'store.db');
const journal = process.argv.includes('--journal') ? path.join(work, 'journal') : null;

const startProxy = (port, upstream, env) => startProxyWith(airi, ['--listen', '127.0.0.1:' + port,
  '--upstream', upstream, '--store', store].concat(journal ? ['--journal', journal] : []), env);

// one call; resolves with the run ID the client received, or null
function call(port, i) {
  const stream = i % 3 === 0;
  const body = JSON.stringify({
    model: 'gpt-kill', seed: i, stream,
    messages: [{ role: 'user', content: 'question ' + i }],
  });
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/chat/completions',
      method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => {
        if (res.statusCode !== 200) return resolve(null);
        if (!stream) return resolve(res.headers['airi-run-id'] || null);
        const m = data.match(/"airi":\{"run":"(sha256:[0-9a-f]{64})"/);
        resolve(m ? m[1] : null);
      });
      res.on('error', () => resolve(null));
      res.on('aborted', () => resolve(null));
    });
    req.on('error', () => resolve(null));
    req.end(body);
  });
}

(async () => {
  let fake, proxy, failed = false;
  try {
    fake = spawnLogged(process.execPath, [path.join(__dirname, 'fake_upstream.js'), '0']);
    const up = (await waitLine(fake, /listening (\d+)/, 10000))[1];
    const port = await freePort();
    proxy = await startProxy(port, 'http://127.0.0.1:' + up,
      journal ? { AIRI_JOURNAL_GATHER_MS: '3000' } : {});

    // load: 400 calls, 32 at a time; SIGKILL after 150 have started
    const acked = [];
    let next = 0, killed = false;
    const worker = async () => {
      while (next < 400) {
        const i = next++;
        if (i === 150 && !killed) {
          killed = true;
          proxy.kill('SIGKILL');
        }
        const id = await call(port, i);
        if (id) acked.push(id);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    if (proxy.exitCode === null && proxy.signalCode === null)
      await new Promise((r) => proxy.once('exit', r));

    const absent = () => acked.filter((id) => {
      try {
        execFileSync(airi, ['show', '--json', '--store', store, id], { stdio: 'ignore' });
        return false;
      } catch { return true; }
    });
    const before = journal ? absent().length : 0;
    // restart on the same store (WAL recovery, and the journal's), then check
    proxy = await startProxy(port, 'http://127.0.0.1:' + up);
    proxy.kill('SIGTERM');
    await new Promise((r) => proxy.once('exit', r));
    if (journal) {
      const m = proxy.log.match(/journal .*: (\d+) runs of the last run checked into the store/);
      console.log(`kill9 (journal): ${before} acknowledged runs were in the journal only; ` +
        `the restart checked ${m ? m[1] : 'no'} journal records into the store`);
      if (!before) { console.log('kill9: FAIL — no run depended on the journal'); failed = true; }
      if (!m || +m[1] < before) { console.log('kill9: FAIL — restart did not record the journal'); failed = true; }
    }
    const missing = absent();
    const fsck = execFileSync(airi, ['fsck', '--store', store]).toString().trim();
    console.log(`kill9${journal ? ' (journal)' : ''}: ${acked.length} identities acknowledged before/after SIGKILL, ` +
      `${missing.length} missing; fsck: ${fsck}`);
    if (acked.length < 100) { console.log('kill9: FAIL — too few calls got through'); failed = true; }
    if (missing.length) { console.log('kill9: FAIL — missing ' + missing.slice(0, 5).join(' ')); failed = true; }
    if (!/ 0 problems/.test(fsck)) { console.log('kill9: FAIL — fsck'); failed = true; }
  } catch (e) {
    console.log('kill9: FAIL — ' + e.message);
    failed = true;
  } finally {
    if (proxy && proxy.exitCode === null) proxy.kill('SIGKILL');
    if (fake) fake.kill();
    fs.rmSync(work, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
})();
