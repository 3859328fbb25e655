#!/bin/sh
# tls.sh — the proxy speaks TLS to an https upstream: it verifies the
# certificate (a self-signed upstream is refused with 502 airi_upstream_error),
# and trusts a CA given with --upstream-ca (the call goes through, is stamped
# and recorded). Needs openssl and node; exit 77 when they are missing.
#   sh tests/proxy/tls.sh AIRI_BIN
airi=${1:-build/airi}
command -v node >/dev/null 2>&1 || { echo "tls: SKIP (no node)"; exit 77; }
command -v openssl >/dev/null 2>&1 || { echo "tls: SKIP (no openssl)"; exit 77; }
case $airi in /*) ;; *) airi=$(pwd)/$airi ;; esac
w=$(mktemp -d "${TMPDIR:-/tmp}/airi-tls.XXXXXX")
pids=
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$w"; }
trap cleanup EXIT
fail() { echo "tls: FAIL — $*"; exit 1; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$w/key.pem" -out "$w/cert.pem" -days 1 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1 || fail "openssl req"
cat >"$w/up.js" <<'JS'
const fs = require('fs'), d = process.argv[2];
const s = require('https').createServer({ key: fs.readFileSync(d + '/key.pem'), cert: fs.readFileSync(d + '/cert.pem') },
  (req, res) => { req.resume(); req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"id":"t","object":"chat.completion","model":"tls-model","choices":[{"index":0,"message":{"role":"assistant","content":"over TLS"},"finish_reason":"stop"}]}');
  }); });
s.listen(0, '127.0.0.1', () => console.log('listening ' + s.address().port));
JS
node "$w/up.js" "$w" >"$w/up.out" 2>&1 &
pids="$pids $!"
i=0; while ! grep -q listening "$w/up.out" 2>/dev/null; do i=$((i+1)); [ $i -gt 100 ] && fail "upstream did not start"; sleep 0.1; done
up=$(sed -n 's/listening //p' "$w/up.out")
port=$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
run_proxy() {
	"$airi" proxy --listen "127.0.0.1:$port" --upstream "https://127.0.0.1:$up" --store "$w/s.db" "$@" 2>"$w/proxy.err" &
	ppid=$!
	pids="$pids $ppid"
	i=0; while ! grep -q listening "$w/proxy.err" 2>/dev/null; do i=$((i+1)); [ $i -gt 100 ] && fail "proxy did not start"; sleep 0.1; done
}
post() { node -e '
const r=require("http").request({host:"127.0.0.1",port:+process.argv[1],path:"/v1/chat/completions",method:"POST",headers:{"content-type":"application/json"}},res=>{let b="";res.on("data",d=>b+=d);res.on("end",()=>console.log(res.statusCode+" "+b))});
r.end("{\"model\":\"m\",\"messages\":[]}")' "$port"; }
run_proxy
out=$(post)
case $out in "502 "*certificate*airi_upstream_error*) echo "ok self-signed upstream refused" ;; *) fail "expected a 502 for an untrusted certificate, got: $out" ;; esac
kill "$ppid"; wait "$ppid" 2>/dev/null
: >"$w/proxy.err"
run_proxy --upstream-ca "$w/cert.pem"
out=$(post)
case $out in "200 "*'"airi":{"run":"sha256:'*) echo "ok trusted with --upstream-ca, stamped" ;; *) fail "expected 200 with an identity, got: $out" ;; esac
kill "$ppid"; wait "$ppid" 2>/dev/null
n=$("$airi" log --store "$w/s.db" --json | grep -c '"run"')
[ "$n" = 2 ] || fail "expected 2 recorded runs (the refused one too), got $n"
echo "ok both calls recorded"
