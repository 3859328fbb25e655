-- wrk script: POST the ~1 KB chat request in $BODY_FILE as JSON, plus the
-- "Name: value" lines in $EXTRA_HEADERS (newline-separated; run.sh puts
-- Portkey's routing headers there). No response() hook (it would make wrk
-- hand every reply to Lua and slow the load generator); done() prints one
-- key=value line for run.sh, where ok = requests - status errors (wrk
-- counts status >= 400 as errors; the targets here send no 3xx).
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
for line in (os.getenv("EXTRA_HEADERS") or ""):gmatch("[^\r\n]+") do
	local k, v = line:match("^%s*([^:]-)%s*:%s*(.-)%s*$")
	if k and k ~= "" then wrk.headers[k] = v end
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"requests=%d ok2xx=%d status_errors=%d socket_errors=%d rps=%.0f p50_ms=%.3f p99_ms=%.3f\n",
		summary.requests, summary.requests - e.status, e.status,
		e.connect + e.read + e.write + e.timeout,
		summary.requests / (summary.duration / 1e6),
		latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
