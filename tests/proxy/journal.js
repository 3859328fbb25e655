// journal.js — `airi proxy --journal FILE`: replies wait for the journal's write, the store
// gets the runs afterwards. Checks, against fake_upstream.js:
//   1. look-ups wait for runs that are acknowledged but not in the store yet: with the writer
//      gathering for 1.5 s (AIRI_JOURNAL_GATHER_MS), health shows them pending right after
//      the replies, GET /airi/v1/runs/ID and /airi/v1/runs/RUN_KEY answer 200 with the run
//      (not 404), and an unknown ID still gets 404;
//      an agent run (two calls with one Airi-Trace, sealed) goes through the journal too:
//      the seal answers with its identity, and the grouped run is found with both calls;
//   2. a clean stop records everything and marks the journal: the next start checks in nothing;
//   3. a run too big for the journal (--journal-size 65536) waits for the store's commit
//      instead: 200, counted in health's journal.fallbacks, in the store at once (this proxy
//      writes without O_DIRECT, AIRI_JOURNAL_DIRECT=0, as on file systems that lack it);
//   4. a second proxy cannot use a journal in use; a file that is not a journal, and
//      --journal-size without --journal, stop the proxy with a message naming the problem;
//   5. the secret sent in Authorization is in no file the proxy wrote, journal included;
//   6. `airi store recover --journal FILE` records what a killed proxy acknowledged without a
//      proxy (then nothing more), refuses a journal a running proxy holds (exit 2) and a
//      missing file (exit 66).
//
//   node journal.js AIRI_BIN       exit 0 pass, 1 fail
'use strict';
const { spawnSync, execFileSync } = require('node:child_process');
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const lib = require('./lib.js');
const { spawnLogged, waitLine, freePort } = lib;

const airi = path.resolve(process.argv[2] || path.join(__dirname, '../../build/airi'));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'airi-journal-'));
const store = path.join(work, 'store.db');
const journal = path.join(work, 'journal');
const SECRET = 'sk-journal-test-secret-5d41402abc4b2a76';
let failed = false;
const ok = (cond, what) => {
  console.log((cond ? 'ok ' : 'FAIL ') + what);
  if (!cond) failed = true;
};

const spawnProxy = (args, env) => spawnLogged(airi, ['proxy'].concat(args), env);
const startProxy = (port, up, extra, env) => lib.startProxy(airi, ['--listen', '127.0.0.1:' + port,
  '--upstream', up, '--store', store, '--journal', journal].concat(extra || []), env);

async function stop(p) {
  p.kill('SIGTERM');
  return p.done;
}

function request(port, method, pth, body, extra) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pth, method,
      headers: Object.assign({ 'content-type': 'application/json',
        authorization: 'Bearer ' + SECRET }, extra || {}) }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function chat(port, i, stream, content) {
  const r = await request(port, 'POST', '/v1/chat/completions', JSON.stringify({
    model: 'gpt-journal', seed: i, stream,
    messages: [{ role: 'user', content: content || 'question ' + i }],
  }));
  let run = r.headers['airi-run-id'];
  if (stream) {
    const m = r.body.match(/"airi":\{"run":"(sha256:[0-9a-f]{64})"/);
    run = m && m[1];
  }
  return { status: r.status, run, key: r.headers['airi-run-key'], body: r.body };
}

const inStore = (id) => spawnSync(airi, ['show', '--json', '--store', store, id]).status === 0;

(async () => {
  let fake, proxy;
  try {
    fake = spawnLogged(process.execPath, [path.join(__dirname, 'fake_upstream.js'), '0']);
    const up = 'http://127.0.0.1:' + (await waitLine(fake, /listening (\d+)/, 10000))[1];
    const port = await freePort();

    // 1. look-ups wait for the writer
    proxy = await startProxy(port, up, [], { AIRI_JOURNAL_GATHER_MS: '1500' });
    const calls = [];
    for (let i = 0; i < 4; i++) calls.push(await chat(port, i, i % 2 === 1));
    ok(calls.every((c) => c.status === 200 && /^sha256:/.test(c.run || '')),
      'four calls (two streamed) acknowledged with an identity');
    const h = JSON.parse((await request(port, 'GET', '/airi/v1/health')).body);
    ok(h.journal && h.journal.pending >= 1 && h.journal.records === 4 && h.journal.bytes === 16777216 &&
      typeof h.journal.direct === 'boolean',
      `health right after the replies: journal ${JSON.stringify(h.journal)}`);
    // a client that hangs up while its look-up waits: the proxy forgets it and goes on
    await new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/airi/v1/runs/' + calls[2].run },
        () => resolve());
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => { req.destroy(); resolve(); }, 200);
    });
    const t0 = Date.now();
    const got = await request(port, 'GET', '/airi/v1/runs/' + calls[3].run);
    const waited = Date.now() - t0;
    let same = false;
    try {
      same = execFileSync(airi, ['id', '--json', '-'], { input: got.body }).toString()
        .includes(calls[3].run);
    } catch (e) { same = false; }
    ok(got.status === 200 && same, `look-up of the last run answered 200 with that run after ${waited} ms`);
    const byKey = await request(port, 'GET', '/airi/v1/runs/' + calls[3].key);
    ok(byKey.status === 200 && byKey.body === got.body, 'look-up by its run key: the same run');
    const unknown = await request(port, 'GET', '/airi/v1/runs/sha256:' + '0'.repeat(64));
    ok(unknown.status === 404, `an unknown run: ${unknown.status}`);
    ok(calls.every((c) => inStore(c.run)), 'all four in the store once the look-up answered');
    ok(proxy.exitCode === null && (await request(port, 'GET', '/airi/v1/runs/' + calls[2].run)).status === 200,
      'a look-up abandoned while it waited: the proxy runs on, the run is found');

    // an agent run through the journal
    const trace = { 'airi-trace': 'journal-agent-1' };
    const a1 = await request(port, 'POST', '/v1/chat/completions', JSON.stringify({
      model: 'gpt-journal', messages: [{ role: 'user', content: 'step one' }] }), trace);
    const a2 = await request(port, 'POST', '/v1/chat/completions', JSON.stringify({
      model: 'gpt-journal', messages: [{ role: 'user', content: 'step two' }] }), trace);
    const seal = await request(port, 'POST', '/airi/v1/groups/journal-agent-1/seal');
    let grouped = null;
    try { grouped = JSON.parse(seal.body); } catch (e) { grouped = null; }
    const gm = grouped ? await request(port, 'GET', '/airi/v1/runs/' + grouped.run) : { status: 0 };
    let steps = [];
    try { steps = JSON.parse(gm.body).trajectory || []; } catch (e) { steps = []; }
    ok(a1.status === 200 && a2.status === 200 && seal.status === 200 && gm.status === 200 &&
      steps.filter((st) => st.type === 'model_call').length === 2 &&
      steps.some((st) => st.run === a1.headers['airi-run-id']) && inStore(grouped.run),
      `an agent run of two calls, sealed: ${seal.status} ${seal.body.slice(0, 60)}; look-up ${gm.status}, ` +
      `${steps.length} trajectory steps`);

    // 2. a clean stop: the next start finds nothing to check in
    ok((await stop(proxy)) === 0, 'SIGTERM: exit 0');
    proxy = await startProxy(port, up);
    ok(!/checked into the store/.test(proxy.log), 'after a clean stop the journal holds nothing to record');

    // 4a. the journal is locked while in use
    const second = spawnProxy(['--listen', '127.0.0.1:' + (await freePort()), '--upstream', up,
      '--store', store, '--journal', journal]);
    const code2 = await second.done;
    ok(code2 !== 0 && /in use by another airi proxy/.test(second.log),
      `a second proxy on the same journal: exit ${code2}, "${second.log.trim().split('\n').pop()}"`);
    // 6a. a running proxy's journal cannot be recovered by another process
    const busy = spawnSync(airi, ['store', 'recover', '--journal', journal, '--store', store]);
    ok(busy.status === 2 && /in use by another airi proxy/.test(busy.stderr.toString()),
      `airi store recover on a journal in use: exit ${busy.status}`);
    // and the store cannot be compacted under a running proxy (it needs it to itself)
    const cmp = spawnSync(airi, ['store', 'compact', '--store', store]);
    ok(cmp.status === 2 && /is in use by another process/.test(cmp.stderr.toString()),
      `airi store compact under a running proxy: exit ${cmp.status}`);
    ok((await stop(proxy)) === 0, 'SIGTERM: exit 0');

    // 6b. killed with runs in the journal only: airi store recover records them
    proxy = await startProxy(port, up, [], { AIRI_JOURNAL_GATHER_MS: '5000' });
    const late = [];
    for (let i = 10; i < 13; i++) late.push(await chat(port, i, i === 11));
    proxy.kill('SIGKILL');
    await proxy.done;
    const notYet = late.filter((c) => !inStore(c.run)).length;
    ok(late.every((c) => c.status === 200) && notYet === 3,
      `killed with 3 acknowledged runs not in the store yet (${notYet} missing)`);
    const rec = spawnSync(airi, ['store', 'recover', '--journal', journal, '--store', store, '--json']);
    ok(rec.status === 0 && JSON.parse(rec.stdout.toString()).records >= 3 && late.every((c) => inStore(c.run)),
      `airi store recover: exit ${rec.status}, ${rec.stdout.toString().trim()}; all three in the store`);
    const again = spawnSync(airi, ['store', 'recover', '--journal', journal, '--store', store]);
    ok(again.status === 0 && /^0 journal records checked into the store/.test(again.stdout.toString()),
      `again: ${again.stdout.toString().trim()}`);
    const none = spawnSync(airi, ['store', 'recover', '--journal', path.join(work, 'nope'), '--store', store]);
    ok(none.status === 66 && /nope: No such file/.test(none.stderr.toString()),
      `a missing journal: exit ${none.status}`);
    ok(/ 0 problems/.test(execFileSync(airi, ['fsck', '--store', store]).toString()), 'fsck: 0 problems');

    // 3. too big for a 64 KiB journal: the call waits for the store instead
    const small = path.join(work, 'small-journal');
    const p3 = spawnProxy(['--listen', '127.0.0.1:' + port, '--upstream', up, '--store', store,
      '--journal', small, '--journal-size', '65536'], { AIRI_JOURNAL_DIRECT: '0' });
    await waitLine(p3, /listening on/, 10000);
    const big = await chat(port, 99, false, 'x'.repeat(40000));
    const small1 = await chat(port, 98, false);
    const h3 = JSON.parse((await request(port, 'GET', '/airi/v1/health')).body);
    ok(big.status === 200 && inStore(big.run), 'a 40 KB call: 200, and in the store as soon as it is answered');
    ok(h3.journal.fallbacks === 1 && h3.journal.records === 1 && h3.journal.bytes === 65536 &&
      h3.journal.direct === false,
      `health: ${JSON.stringify(h3.journal)}`);
    ok(small1.status === 200, 'a small call still goes through the journal');
    ok((await stop(p3)) === 0, 'SIGTERM: exit 0');
    ok(fs.statSync(small).size === 4096 + 65536, 'a 64 KiB journal file: header block + ring');

    // 4b. not a journal; --journal-size alone
    const bogus = path.join(work, 'bogus');
    fs.writeFileSync(bogus, Buffer.alloc(100000));
    const p4 = spawnProxy(['--listen', '127.0.0.1:' + port, '--upstream', up, '--store', store,
      '--journal', bogus]);
    const c4 = await p4.done;
    ok(c4 === 2 && p4.log.includes(bogus) && /not an airi proxy journal/.test(p4.log),
      `a file that is not a journal: exit ${c4}: ${p4.log.trim()}`);
    const p5 = spawnProxy(['--listen', '127.0.0.1:' + port, '--upstream', up, '--store', store,
      '--journal-size', '65536']);
    const c5 = await p5.done;
    ok(c5 === 64 && /--journal-size needs --journal/.test(p5.log), `--journal-size alone: exit ${c5}`);
    const p6 = spawnProxy(['--listen', '127.0.0.1:' + port, '--upstream', up, '--store', store,
      '--journal', small, '--journal-size', '4096']);
    const c6 = await p6.done;
    ok(c6 === 64 && /--journal-size needs a number of bytes from 65536/.test(p6.log),
      `--journal-size 4096: exit ${c6}`);

    // 5. no secret in any file
    const leaks = fs.readdirSync(work).filter((f) => {
      const p = path.join(work, f);
      return fs.statSync(p).isFile() && fs.readFileSync(p).includes(SECRET);
    });
    ok(leaks.length === 0, 'the Authorization secret is in none of ' + fs.readdirSync(work).join(' '));
  } catch (e) {
    console.log('FAIL ' + (e.stack || e.message));
    failed = true;
  } finally {
    if (proxy && proxy.exitCode === null) proxy.kill('SIGKILL');
    if (fake) fake.kill();
    fs.rmSync(work, { recursive: true, force: true });
  }
  console.log('journal: ' + (failed ? 'FAIL' : 'all passed'));
  process.exit(failed ? 1 : 0);
})();
