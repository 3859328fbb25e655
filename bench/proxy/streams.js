#!/usr/bin/env node
// streams.js - the slow-streams part of the proxy benchmark.
//
//   node streams.js upstream PORT CHUNKS INTERVAL_MS
//       an OpenAI-style upstream on 127.0.0.1:PORT: every POST
//       /v1/chat/completions gets a text/event-stream with a role chunk, then
//       one content chunk every INTERVAL_MS (CHUNKS of them), a final chunk
//       with finish_reason and usage, and "data: [DONE]". Each stream has its
//       own chatcmpl id. Prints "listening" when ready.
//
//   node streams.js client URL N CHUNKS BODY_FILE [TIMEOUT_S]
//       opens N concurrent streaming POSTs to URL (each on its own
//       connection, "stream": true added to the body), reads them to the
//       end and checks each one: status 200, CHUNKS content chunks, the
//       role and final chunks, airi's identity chunk and comment, and
//       "data: [DONE]" last. Prints one JSON line: counts, the failures by
//       kind (first few in full), the distinct run ids, time to connect
//       all, and the slowest stream. EXTRA_HEADERS ("Name: value" lines) adds
//       headers to each call; STREAMS_IDENTITY=0 drops the check for airi's
//       identity (for a target that is not airi: run.sh's Portkey part).
'use strict';
const http = require('http');
const fs = require('fs');

function upstream(port, chunks, interval) {
	let seq = 0;
	const server = http.createServer((req, res) => {
		const body = [];
		req.on('data', (d) => body.push(d));
		req.on('end', () => {
			if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
				res.writeHead(404, {'content-type': 'application/json'});
				res.end('{"error":{"message":"not found"}}');
				return;
			}
			const id = 'chatcmpl-stream' + process.pid + '-' + (++seq);
			const created = Math.floor(Date.now() / 1000);
			const base = {id, object: 'chat.completion.chunk', created,
				model: 'gpt-4o-mini-2024-07-18', system_fingerprint: 'fp_bench00001'};
			const chunk = (delta, finish, extra) => 'data: ' + JSON.stringify(Object.assign({}, base,
				{choices: [{index: 0, delta, logprobs: null, finish_reason: finish}]}, extra || {})) + '\n\n';
			res.writeHead(200, {'content-type': 'text/event-stream; charset=utf-8',
				'cache-control': 'no-cache', 'x-request-id': 'req_' + seq});
			res.write(chunk({role: 'assistant', content: ''}, null));
			let n = 0;
			const t = setInterval(() => {
				n++;
				res.write(chunk({content: 'word' + n + ' '}, null));
				if (n >= chunks) {
					clearInterval(t);
					res.write(chunk({}, 'stop'));
					res.write('data: ' + JSON.stringify(Object.assign({}, base, {choices: [],
						usage: {prompt_tokens: 231, completion_tokens: chunks, total_tokens: 231 + chunks}})) + '\n\n');
					res.end('data: [DONE]\n\n');
				}
			}, interval);
			res.on('close', () => clearInterval(t));
		});
	});
	server.keepAliveTimeout = 300000;
	server.headersTimeout = 0;
	server.requestTimeout = 0;
	server.maxConnections = 100000;
	server.listen(port, '127.0.0.1', 4096, () => console.log('listening'));
}

function client(url, n, chunks, bodyFile, timeoutS) {
	const body = JSON.parse(fs.readFileSync(bodyFile, 'utf8'));
	body.stream = true;
	body.stream_options = {include_usage: true};
	const payload = Buffer.from(JSON.stringify(body));
	const agent = new http.Agent({keepAlive: false, maxSockets: Infinity});
	const extra = {};
	for (const line of (process.env.EXTRA_HEADERS || '').split(/[\r\n]+/)) {
		const i = line.indexOf(':');
		if (i > 0) extra[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
	}
	const wantIdentity = process.env.STREAMS_IDENTITY !== '0';
	const t0 = Date.now();
	let connected = 0, allConnectedMs = null, finished = 0;
	let slowest = 0;
	const failures = {};
	const examples = [];
	const runs = new Set();
	let ok = 0;
	const fail = (kind, detail) => {
		failures[kind] = (failures[kind] || 0) + 1;
		if (examples.length < 5) examples.push({kind, detail});
	};
	const report = () => {
		console.log(JSON.stringify({n, ok, failed: n - ok, failures, examples,
			distinct_runs: runs.size, all_headers_ms: allConnectedMs,
			slowest_ms: slowest, total_ms: Date.now() - t0}));
		process.exit(ok === n ? 0 : 1);
	};
	const timer = setTimeout(() => {
		fail('timeout', `${n - finished} streams not finished after ${timeoutS} s`);
		finished = n;
		report();
	}, timeoutS * 1000);
	const one = () => {
		const start = Date.now();
		let done = false;
		const end = (err, detail) => {
			if (done) return;
			done = true;
			finished++;
			if (err) fail(err, detail); else ok++;
			slowest = Math.max(slowest, Date.now() - start);
			if (finished === n) {
				clearTimeout(timer);
				report();
			}
		};
		const req = http.request(url, {method: 'POST', agent, headers: {
			'content-type': 'application/json', 'authorization': 'Bearer sk-bench',
			'content-length': payload.length, 'user-agent': 'airi-bench-streams', ...extra}}, (res) => {
			if (++connected === n) allConnectedMs = Date.now() - t0;
			if (res.statusCode !== 200) {
				let b = '';
				res.on('data', (d) => { b += d; });
				res.on('end', () => end('status_' + res.statusCode, b.slice(0, 300)));
				return;
			}
			res.setEncoding('utf8');
			let buf = '', content = 0, role = false, fin = false, usage = false,
				identity = false, comment = false, doneSeen = false, after = false;
			res.on('data', (d) => {
				buf += d;
				let i;
				while ((i = buf.indexOf('\n\n')) >= 0) {
					const ev = buf.slice(0, i);
					buf = buf.slice(i + 2);
					if (doneSeen) after = true;
					if (ev.startsWith(': airi run=')) { comment = true; continue; }
					if (!ev.startsWith('data: ')) continue;
					const data = ev.slice(6);
					if (data === '[DONE]') { doneSeen = true; continue; }
					let j;
					try { j = JSON.parse(data); } catch (e) { end('bad_json', data.slice(0, 200)); return; }
					if (j.airi && j.airi.run) { identity = true; runs.add(j.airi.run); continue; }
					const c = j.choices && j.choices[0];
					if (j.usage) usage = true;
					if (!c) continue;
					if (c.delta && c.delta.role) role = true;
					if (c.delta && c.delta.content) content++;
					if (c.finish_reason) fin = true;
				}
			});
			res.on('end', () => {
				if (content !== chunks) return end('short_stream', `${content} of ${chunks} chunks`);
				if (!role || !fin || !usage) return end('missing_chunk', {role, fin, usage});
				if (wantIdentity && (!identity || !comment)) return end('no_identity', {identity, comment, runKey: res.headers['airi-run-key']});
				if (!doneSeen || after) return end('bad_done', {doneSeen, after});
				end(null);
			});
			res.on('error', (e) => end('response_error', e.message));
		});
		req.on('error', (e) => end('request_error_' + (e.code || 'x'), e.message));
		req.end(payload);
	};
	for (let i = 0; i < n; i++) one();
}

const [mode, ...a] = process.argv.slice(2);
if (mode === 'upstream') upstream(+a[0], +a[1], +a[2]);
else if (mode === 'client') client(a[0], +a[1], +a[2], a[3], +(a[4] || 60));
else {
	console.error('usage: streams.js upstream PORT CHUNKS INTERVAL_MS | client URL N CHUNKS BODY_FILE [TIMEOUT_S]');
	process.exit(2);
}
