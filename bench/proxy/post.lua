-- wrk script: POST the ~1 KB chat request in $BODY_FILE as JSON. No
-- response() hook (it would make wrk hand every reply to Lua and slow the
-- load generator); done() prints one key=value line for run.sh, where
-- ok = requests - status errors (wrk counts status >= 400 as errors; the
-- targets here send no 3xx).
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"requests=%d ok2xx=%d status_errors=%d socket_errors=%d rps=%.0f p50_ms=%.3f p99_ms=%.3f\n",
		summary.requests, summary.requests - e.status, e.status,
		e.connect + e.read + e.write + e.timeout,
		summary.requests / (summary.duration / 1e6),
		latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
