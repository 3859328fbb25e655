# proxylib.sh - helpers for the PostgreSQL tests that run airi proxy in
# front of the fake upstream (spool.sh, startdown.sh, kill.sh); sourced after
# lib.sh.

# start_upstream: tests/proxy/fake_upstream.js on a free port; sets up
# (its pid) and uport
start_upstream() {
	: >up.out
	node "$srcdir/tests/proxy/fake_upstream.js" 0 >up.out 2>&1 &
	up=$!
	i=0
	while ! grep -q listening up.out && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	uport=$(sed -n 's/listening //p' up.out)
}

# start_proxy LOG SPOOLDIR STORE [ARGS...]: sets proxy (its pid) and
# pport, trying ports from PORT_BASE (default 44000); with PROXY_OTEL=1
# also an OTLP receiver on oport (pport + 100)
start_proxy() {
	log=$1 dir=$2 store=$3
	shift 3
	for k in 1 2 3 4 5 6; do
		pport=$(( ($$ * k % 3000) + ${PORT_BASE:-44000} + k ))
		oport=$((pport + 100))
		otel=""
		[ "${PROXY_OTEL:-0}" = 1 ] && otel="--otel-listen 127.0.0.1:$oport"
		: >"$log"
		# shellcheck disable=SC2086
		"$airi" proxy --upstream "http://127.0.0.1:$uport" --listen "127.0.0.1:$pport" \
			$otel --store "$store" --spool "$dir" "$@" >>"$log" 2>&1 &
		proxy=$!
		i=0
		while ! grep -q "listening on" "$log" && kill -0 $proxy 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		grep -q "listening on" "$log" && return 0
		kill $proxy 2>/dev/null
		wait $proxy 2>/dev/null
	done
	fail "the proxy did not start: $(cat "$log")"
	finish
}

# calls PORT TAG N: N chat completions one after the other; prints
# "STATUS RUN-ID" for each, in the order they were answered
calls() {
	node -e '
const http = require("http");
const [port, tag, n] = process.argv.slice(1);
function one(i) {
	if (i >= +n) return;
	const body = JSON.stringify({model: "gpt-x", messages: [{role: "user", content: tag + " " + i}]});
	const r = http.request({host: "127.0.0.1", port, path: "/v1/chat/completions", method: "POST",
		headers: {"content-type": "application/json", "authorization": "Bearer sk-secret-pg-proxy"}}, (res) => {
		let b = "";
		res.on("data", (d) => b += d);
		res.on("end", () => {
			let run = res.headers["airi-run-id"] || "-";
			let type = "";
			try { const j = JSON.parse(b); if (j.error) type = " " + j.error.type;
			      if (j.airi && j.airi.run !== run) run = "mismatch"; } catch (e) {}
			console.log(res.statusCode + " " + run + type);
			one(i + 1);
		});
	});
	r.on("error", () => { console.log("0 -"); one(i + 1); });
	r.end(body);
}
one(0);' "$1" "$2" "$3"
}

# all_ok FILE N: N lines, each 200 with an identity
all_ok() {
	n=$(grep -c '^200 sha256:[0-9a-f]\{64\}$' "$1")
	[ "$n" = "$2" ] && ok || fail "$1: $n of $2 calls answered 200 with an identity: $(grep -v '^200 sha256' "$1" | head -3)"
}

# wait_log FILE TEXT: until FILE has TEXT (10 s at most); the writer
# thread writes its lines while the proxy serves
wait_log() {
	i=0
	while ! grep -q -e "$2" "$1" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	contains "$1" "$2"
}
