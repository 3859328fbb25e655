// flow.js - flow control towards a slow client: an upstream that streams
// 48 MB of events as fast as it can, a client that stops reading after the
// first bytes for two seconds; the proxy must not buffer the stream for it
// (its resident memory stays far below the stream's size), and once the
// client reads again the stream completes, ends with the identity chunk and
// is recorded.
//   node flow.js AIRI_BIN        exit 0 pass, 1 fail
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const airi = path.resolve(process.argv[2] || path.join(__dirname, '../../build/airi'));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'airi-flow-'));
const store = path.join(work, 'store.db');
const CHUNKS = 48000; // ~1 KB each

function listen(server) {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)));
}
function rssKiB(pid) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
  return m ? +m[1] : 0;
}

(async () => {
  let proxy, failed = false;
  const fail = (m) => { console.log('flow: FAIL - ' + m); failed = true; };
  const up = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const ev = 'data: {"id":"f","model":"m","choices":[{"index":0,"delta":{"content":"' +
        'x'.repeat(1000) + '"}}]}\n\n';
      let i = 0;
      const more = () => {
        while (i < CHUNKS) { i++; if (!res.write(ev)) return res.once('drain', more); }
        res.end('data: [DONE]\n\n');
      };
      more();
    });
  });
  try {
    const uport = await listen(up);
    const probe = http.createServer();
    const port = await listen(probe); // a free port number for the proxy
    await new Promise((r) => probe.close(r));
    proxy = spawn(airi, ['proxy', '--listen', '127.0.0.1:' + port, '--upstream',
      'http://127.0.0.1:' + uport, '--store', store], {
      stdio: ['ignore', 'ignore', 'pipe'],
      // under AddressSanitizer, freed memory waits in a quarantine that
      // would count as growth: keep it small for this measurement
      env: { ...process.env, ASAN_OPTIONS: [process.env.ASAN_OPTIONS, 'quarantine_size_mb=1']
        .filter(Boolean).join(':') },
    });
    await new Promise((r, j) => {
      let b = '';
      proxy.stderr.on('data', (d) => { b += d; if (/listening on/.test(b)) r(); });
      setTimeout(() => j(new Error('proxy did not start')), 10000);
    });
    const base = rssKiB(proxy.pid);
    const body = JSON.stringify({ model: 'm', stream: true, messages: [] });
    const got = await new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/v1/chat/completions',
        method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let n = 0, tail = '', peak = 0, paused = false;
        res.on('data', (d) => {
          n += d.length;
          tail = (tail + d.toString('latin1')).slice(-600);
          if (!paused) { // stop reading for two seconds, watch the proxy
            paused = true;
            res.pause();
            const t = setInterval(() => { peak = Math.max(peak, rssKiB(proxy.pid)); }, 100);
            setTimeout(() => { clearInterval(t); res.resume(); }, 2000);
          }
        });
        res.on('end', () => resolve({ n, tail, peak }));
      });
      req.on('error', reject);
      req.end(body);
    });
    const grew = got.peak - base;
    console.log(`flow: ${got.n} bytes received; proxy RSS grew ${Math.round(grew / 1024)} MiB ` +
      `while the client stalled (idle ${Math.round(base / 1024)} MiB; stream ` +
      `${Math.round(CHUNKS * 1.1 / 1024)} MiB)`);
    // the stream is ~52 MiB: growing by less than half of it means it was
    // not buffered for the client (what grows is the captured content)
    if (grew > 24 * 1024) fail('the proxy buffered the stream for the stalled client');
    if (!/"airi":\{"run":"sha256:[0-9a-f]{64}"/.test(got.tail)) fail('no identity at the end');
    if (!/data: \[DONE\]/.test(got.tail)) fail('no [DONE]');
    proxy.kill('SIGTERM');
    await new Promise((r) => proxy.once('exit', r));
    const n = execFileSync(airi, ['log', '--json', '--store', store]).toString()
      .split('"run"').length - 1;
    if (n !== 1) fail(`expected 1 recorded run, found ${n}`);
  } catch (e) {
    fail(e.message);
  } finally {
    if (proxy && proxy.exitCode === null) proxy.kill('SIGKILL');
    up.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
})();
