// features.js — what the proxy does besides relaying, each checked against fake_upstream.js
// (two of them, A and B) and the store:
//   1. --config routes: a prefix route (stripped, and kept with strip_prefix false), a model
//      route ("claude*"), the default route; model.upstream and meta.endpoint as documented;
//      404 airi_no_route when nothing matches; a bad config file stops the proxy (65/66);
//   2. a client that hangs up while the upstream is still thinking: the call is recorded with
//      meta.ended "client_disconnected";
//   3. --idle-timeout: an upstream that never answers gives 502 airi_upstream_error (without an
//      identity, section 11.3) and a run with meta.ended "upstream_timeout";
//   3a. --connect-timeout: an upstream whose accept queue is full (perl holds a listener with
//      backlog 1 and never accepts, so further SYNs are dropped) gives 502 in about that time,
//      recorded as "upstream_timeout";
//   3b. a request body that is not JSON reaches the upstream byte for byte, its answer reaches
//      the client, and the run records the body by digest with meta.capture "partial: ...";
//   3c. a streamed call's Airi-Run-Key resolves, through GET /airi/v1/runs/KEY and `airi show`,
//      to the run its identity chunk named;
//   3d. malformed HTTP (a garbage request line, a bad Content-Length, headers over 64 KiB) is refused
//      by libevent, and the proxy goes on serving; a slow upstream does not hold up another call;
//   4. calls with one W3C traceparent trace-id form one agent run, sealed after --group-idle;
//   5. SIGTERM while a call is in flight: the call completes with its identity, new connections
//      are refused, a request on a connection already open gets 503 airi_shutting_down, the
//      proxy exits 0, and the run is in the store; an agent run still open is sealed then
//      (meta.sealed "shutdown"), and the idle one of 4. says "idle".
//
//   node features.js AIRI_BIN       exit 0 pass, 1 fail
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const lib = require('./lib.js');
const { spawnLogged, waitLine, freePort } = lib;

const airi = path.resolve(process.argv[2] || path.join(__dirname, '../../build/airi'));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'airi-features-'));
let failed = false;
const ok = (cond, what) => {
  console.log((cond ? 'ok ' : 'FAIL ') + what);
  if (!cond) failed = true;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const proxy = (args) => lib.startProxy(airi, args);

function chat(base, pth, model, content, headers, signal) {
  return fetch(base + pth, {
    method: 'POST', signal,
    headers: Object.assign({ 'content-type': 'application/json' }, headers || {}),
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
  });
}

function runs(store) {
  const r = spawnSync(airi, ['log', '--store', store, '--json']);
  if (r.status !== 0) return [];
  return JSON.parse(r.stdout.toString()).map((x) => x.run || x.id);
}

function manifest(store, id) {
  const r = spawnSync(airi, ['show', '--store', store, '--json', id]);
  return r.status === 0 ? JSON.parse(r.stdout.toString()).manifest : null;
}

// the manifests in store whose meta satisfies pred, waiting up to ms for one
async function waitRun(store, pred, ms) {
  const end = Date.now() + ms;
  for (;;) {
    for (const id of runs(store)) {
      const m = manifest(store, id);
      if (m && pred(m)) return m;
    }
    if (Date.now() > end) return null;
    await sleep(200);
  }
}

(async () => {
  const procs = [];
  try {
    const fakes = [];
    for (let i = 0; i < 2; i++) {
      const f = spawnLogged(process.execPath, [path.join(__dirname, 'fake_upstream.js'), '0']);
      procs.push(f);
      fakes.push('http://127.0.0.1:' + (await waitLine(f, /listening (\d+)/, 10000))[1]);
    }
    const [A, B] = fakes;
    const seenAt = async (up, content) => (await (await fetch(up + '/_fake/requests')).json())
      .filter((r) => r.body.includes(content));

    // 1. routes
    const cfg = path.join(work, 'routes.json');
    fs.writeFileSync(cfg, JSON.stringify({ routes: [
      { prefix: '/b', upstream: B + '/' },
      { prefix: '/keep', upstream: B, strip_prefix: false },
      { model: 'claude*', upstream: B },
      { upstream: A },
    ] }));
    const s1 = path.join(work, 'routes.db');
    let port = await freePort();
    let px = await proxy(['--listen', '127.0.0.1:' + port, '--config', cfg, '--store', s1]);
    procs.push(px);
    const base = 'http://127.0.0.1:' + port;
    const cases = [
      ['/b/v1/chat/completions', 'gpt-4o', 'via prefix', B, '/v1/chat/completions'],
      ['/keep/v1/chat/completions', 'gpt-4o', 'via kept prefix', B, '/keep/v1/chat/completions'],
      ['/v1/chat/completions', 'claude-3-5', 'via model', B, '/v1/chat/completions'],
      ['/v1/chat/completions', 'gpt-4o', 'via default', A, '/v1/chat/completions'],
    ];
    for (const [pth, model, content, up, upPath] of cases) {
      const r = await chat(base, pth, model, content);
      await r.text();
      const at = await seenAt(up, content);
      const other = await seenAt(up === A ? B : A, content);
      const m = manifest(s1, r.headers.get('airi-run-id') || 'none');
      ok(at.length === 1 && other.length === 0 && at[0].path === upPath && m &&
        m.conditions.model.upstream === up && m.meta.endpoint === pth,
      `${pth} (${model}) went to ${up === A ? 'A' : 'B'} as ${at[0] && at[0].path}; ` +
        `model.upstream ${m && m.conditions.model.upstream}, meta.endpoint ${m && m.meta.endpoint}`);
    }
    px.kill('SIGTERM');
    await px.done;
    fs.writeFileSync(cfg, JSON.stringify({ routes: [{ prefix: '/only', upstream: A }] }));
    px = await proxy(['--listen', '127.0.0.1:' + port, '--config', cfg, '--store', s1]);
    procs.push(px);
    const nr = await chat(base, '/v1/chat/completions', 'gpt-4o', 'no route');
    const nb = await nr.json();
    ok(nr.status === 404 && nb.error && nb.error.type === 'airi_no_route', `no route: ${nr.status} ${nb.error && nb.error.type}`);
    px.kill('SIGTERM');
    await px.done;
    for (const [content, want, what] of [
      ['{"routes": []}', 65, 'an empty routes array'],
      ['{"routes": [{"prefix": "b", "upstream": "http://x"}]}', 65, 'a prefix without /'],
      ['{"routes": [{"prefix": "/b"}]}', 65, 'a route without upstream'],
      [null, 66, 'a missing file']]) {
      const f = path.join(work, 'bad.json');
      if (content === null) fs.rmSync(f, { force: true }); else fs.writeFileSync(f, content);
      const r = spawnSync(airi, ['proxy', '--listen', '127.0.0.1:' + port, '--config', f, '--store', s1],
        { timeout: 10000 });
      ok(r.status === want, `config with ${what}: exit ${r.status} (${r.stderr.toString().trim().split('\n').pop()})`);
    }

    // 2.-4. one proxy: client gone, idle timeout, traceparent groups
    const s2 = path.join(work, 'main.db');
    port = await freePort();
    px = await proxy(['--listen', '127.0.0.1:' + port, '--upstream', A, '--store', s2,
      '--idle-timeout', '1', '--group-idle', '1']);
    procs.push(px);
    const b2 = 'http://127.0.0.1:' + port;
    const ac = new AbortController();
    const gone = chat(b2, '/v1/chat/completions', 'gpt-4o', 'hang up on me', { 'x-fake-fault': 'slow' }, ac.signal)
      .catch(() => null);
    await sleep(300);
    ac.abort();
    await gone;
    const mGone = await waitRun(s2, (m) => m.meta.ended === 'client_disconnected', 8000);
    ok(mGone !== null, 'a client that hung up: recorded with meta.ended client_disconnected');

    const t0 = Date.now();
    const st = await chat(b2, '/v1/chat/completions', 'gpt-4o', 'never answered', { 'x-fake-fault': 'stall' });
    const sb = await st.json();
    const mTo = await waitRun(s2, (m) => m.meta.ended === 'upstream_timeout' &&
      JSON.stringify(m.conditions.input).includes('never answered'), 5000);
    ok(st.status === 502 && sb.error && sb.error.type === 'airi_upstream_error' && mTo &&
      !st.headers.get('airi-run-id'),
    `an upstream that never answers, --idle-timeout 1: ${st.status} ${sb.error && sb.error.type} after ` +
      `${Date.now() - t0} ms, meta.ended ${mTo && mTo.meta.ended}`);

    // a connect that hangs: a listener that never accepts, its queue filled (perl-base is
    // in every Debian; without it this check is skipped, said so)
    if (spawnSync('perl', ['-MIO::Socket::INET', '-e', '1']).status !== 0) {
      console.log('skip --connect-timeout: no perl with IO::Socket::INET');
    } else {
      const perl = spawnLogged('perl', ['-MIO::Socket::INET', '-e', `
        my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1, Proto => 'tcp') or die;
        my @fill; for (1 .. 4) { my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $l->sockport, Blocking => 0); push @fill, $c; }
        $| = 1; print "port ", $l->sockport, "\n"; sleep 60;`]);
      procs.push(perl);
      const dead = (await waitLine(perl, /port (\d+)/, 5000))[1];
      const s3 = path.join(work, 'connect.db');
      const p3port = await freePort();
      const p3 = await proxy(['--listen', '127.0.0.1:' + p3port, '--upstream', 'http://127.0.0.1:' + dead,
        '--store', s3, '--connect-timeout', '1']);
      procs.push(p3);
      const tc = Date.now();
      const cr = await chat('http://127.0.0.1:' + p3port, '/v1/chat/completions', 'gpt-4o', 'no connect');
      const cb = await cr.json();
      const took = Date.now() - tc;
      const mc = await waitRun(s3, (m) => m.meta.ended === 'upstream_timeout', 5000);
      ok(cr.status === 502 && cb.error && cb.error.type === 'airi_upstream_error' && took < 4000 && mc,
        `--connect-timeout 1, a connect that hangs: ${cr.status} after ${took} ms, recorded ` +
          `${mc ? mc.meta.ended : 'no run'}`);
      p3.kill('SIGTERM');
      await p3.done;
      perl.kill();
    }

    const junk = '{"model": "gpt-4o", "messages": [ not json';
    const jr = await fetch(b2 + '/v1/chat/completions', { method: 'POST',
      headers: { 'content-type': 'application/json' }, body: junk });
    const jb = await jr.text();
    const jseen = (await (await fetch(A + '/_fake/requests')).json()).filter((r) => r.body === junk);
    const mJunk = manifest(s2, jr.headers.get('airi-run-id') || 'none');
    ok(jr.status === 400 && jb.includes('could not parse') && jseen.length === 1 && mJunk &&
      mJunk.conditions.request && mJunk.conditions.request.bytes === junk.length &&
      /^partial: /.test(mJunk.meta.capture || ''),
    `a body that is not JSON: forwarded unchanged (${jseen.length}), upstream's ${jr.status} passed on, ` +
      `recorded by digest (${mJunk && mJunk.meta.capture})`);

    const sr = await fetch(b2 + '/v1/chat/completions', { method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'keyed' }] }) });
    const key = sr.headers.get('airi-run-key');
    const sText = await sr.text();
    const named = (sText.match(/"airi":\{"run":"(sha256:[0-9a-f]{64})"/) || [])[1];
    const byKey = await fetch(b2 + '/airi/v1/runs/' + key);
    const byId = await fetch(b2 + '/airi/v1/runs/' + named);
    const kBody = await byKey.text();
    const shown = spawnSync(airi, ['show', '--store', s2, '--json', key]);
    const shownRun = shown.status === 0 ? JSON.parse(shown.stdout.toString()).ids.run : null;
    ok(/^rk_/.test(key || '') && named && byKey.status === 200 && kBody === await byId.text() &&
      shownRun === named,
    `run key ${key}: GET ${byKey.status}, the same manifest as by ID, airi show gives ${shownRun && shownRun.slice(0, 19)}`);

    const raw = (bytes) => new Promise((resolve) => {
      const sock = require('node:net').connect(port, '127.0.0.1');
      let got = '';
      sock.setTimeout(5000, () => sock.destroy());
      sock.on('data', (d) => { got += d; });
      sock.on('close', () => resolve(got));
      sock.on('error', () => resolve(got));
      sock.on('connect', () => sock.end(bytes));
    });
    const bad = [
      ['a garbage request line', 'GARBAGE\r\n\r\n'],
      ['a bad Content-Length', 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}'],
      ['headers over 64 KiB', 'GET /airi/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ' + 'a'.repeat(65536) + '\r\n\r\n'],
    ];
    for (const [what, bytes] of bad) {
      const got = await raw(bytes);
      const status = (got.match(/^HTTP\/1\.[01] (\d+)/) || [])[1];
      const h = await fetch(b2 + '/airi/v1/health');
      ok((!status || /^4/.test(status)) && h.status === 200,
        `${what}: ${status ? 'answered ' + status : 'connection closed'}, the proxy serves on`);
    }
    const slowOne = chat(b2, '/v1/chat/completions', 'gpt-4o', 'slow one', { 'x-fake-fault': 'slow' });
    await sleep(100);
    const tq = Date.now();
    const quick = await chat(b2, '/v1/chat/completions', 'gpt-4o', 'quick one');
    await quick.text();
    const quickMs = Date.now() - tq;
    const slowRes = await slowOne;
    await slowRes.text();
    ok(quick.status === 200 && quickMs < 1000 && slowRes.status === 200,
      `a call beside one whose upstream takes 2 s: answered in ${quickMs} ms`);

    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const tp = { traceparent: '00-' + trace + '-00f067aa0ba902b7-01' };
    const g1 = await chat(b2, '/v1/chat/completions', 'gpt-4o', 'agent step 1', tp);
    const g2 = await chat(b2, '/v1/chat/completions', 'gpt-4o', 'agent step 2', tp);
    const ids = [g1.headers.get('airi-run-id'), g2.headers.get('airi-run-id')];
    await g1.text(); await g2.text();
    const grouped = await waitRun(s2, (m) => Array.isArray(m.trajectory) && m.meta.group &&
      m.meta.group.includes(trace), 8000);
    const calls = grouped ? grouped.trajectory.filter((x) => x.type === 'model_call').map((x) => x.run) : [];
    ok(grouped && calls.length === 2 && calls[0] === ids[0] && calls[1] === ids[1],
      `two calls with one traceparent: one agent run sealed after --group-idle 1 (${calls.length} model calls` +
      `${grouped ? ', meta.group ' + grouped.meta.group : ''})`);

    // 5. SIGTERM with a call in flight (and a kept-alive connection open beside it)
    const http = require('node:http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const viaAgent = (pth) => new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: pth, method: 'POST', agent,
        headers: { 'content-type': 'application/json' } }, (res) => {
        let b = '';
        res.on('data', (d) => { b += d; });
        res.on('end', () => resolve({ status: res.statusCode, body: b }));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: pth }] }));
    });
    await viaAgent('/v1/chat/completions');
    const inflight = chat(b2, '/v1/chat/completions', 'gpt-4o', 'finish me', { 'x-fake-fault': 'slow' });
    await sleep(300);
    px.kill('SIGTERM');
    // a new connection (not one of fetch's kept-alive ones) is refused once the signal is
    // handled: tried every 50 ms for up to 1.2 s (the call in flight takes 2 s)
    const tryConnect = () => new Promise((resolve) => {
      const sock = require('node:net').connect(port, '127.0.0.1');
      sock.on('connect', () => { sock.destroy(); resolve(false); });
      sock.on('error', (e) => resolve(e.code === 'ECONNREFUSED'));
    });
    let refused = false;
    for (let i = 0; i < 24 && !refused; i++) {
      refused = await tryConnect();
      if (!refused) await sleep(50);
    }
    const late = await viaAgent('/v1/chat/completions').catch((e) => ({ status: 0, body: e.message }));
    ok(late.status === 503 && late.body.includes('airi_shutting_down'),
      `after SIGTERM, a request on an open connection: ${late.status} ${late.body.slice(0, 80)}`);
    agent.destroy();
    const fr = await inflight;
    const fb = await fr.json();
    const code = await px.done;
    ok(fr.status === 200 && fb.airi && /^sha256:/.test(fb.airi.run) && refused && code === 0 &&
      manifest(s2, fb.airi.run) !== null,
    `SIGTERM with a call in flight: it completed (${fr.status}, identity ${fb.airi ? 'yes' : 'no'}), ` +
      `new connections refused: ${refused}, exit ${code}, run in the store`);
    // an agent run still open at SIGTERM (group-idle 60 s: only the shutdown seals it)
    const s5 = path.join(work, 'exit.db');
    const p5port = await freePort();
    const p5 = await proxy(['--listen', '127.0.0.1:' + p5port, '--upstream', A, '--store', s5]);
    procs.push(p5);
    const open1 = await chat('http://127.0.0.1:' + p5port, '/v1/chat/completions', 'gpt-4o', 'left open',
      { 'airi-trace': 'open-at-exit' });
    await open1.text();
    p5.kill('SIGTERM');
    await p5.done;
    const atExit = await waitRun(s5, (m) => m.meta.group && m.meta.group.includes('open-at-exit'), 1000);
    ok(atExit && atExit.meta.sealed === 'shutdown' && grouped && grouped.meta.sealed === 'idle' &&
      atExit.trajectory.some((x) => x.run === open1.headers.get('airi-run-id')),
    `an agent run open at SIGTERM: sealed "${atExit && atExit.meta.sealed}" with its call; the idle one "${grouped && grouped.meta.sealed}"`);
  } catch (e) {
    console.log('FAIL ' + (e.stack || e.message));
    failed = true;
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    fs.rmSync(work, { recursive: true, force: true });
  }
  console.log('features: ' + (failed ? 'FAIL' : 'all passed'));
  process.exit(failed ? 1 : 0);
})();
