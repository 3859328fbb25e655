#!/bin/sh
# make.sh - regenerates the bundle_fail corpus next to this script: a valid
# bundle (good.airi, plus good-withheld.airi with sections withheld), the
# verifier key they are signed with (key.pub), and one tampered bundle per
# fault, each named after it. expected.txt (kept by hand) says which reason
# code and JSON Pointer `airi verify` must report for each.
#
# Usage: sh tests/vectors/bundle_fail/make.sh PATH/TO/airi
#
# It builds a fixed store of five runs in a temporary directory with a new
# key (thrown away afterwards), so each run of this script gives different
# bytes (keys, signatures, logged_at times): the corpus is committed as
# fixed bytes and run.sh needs only those. The tampering is done with sed on
# the single-line canonical JSON of the exported bundles; the script checks
# that every edit changed something. Needs POSIX sh and sed.

set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 PATH/TO/airi" >&2
	exit 2
fi
case $1 in
/*) AIRI=$1 ;;
*) AIRI=$(pwd)/$1 ;;
esac
OUT=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/airi-bundle-fail.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
LC_ALL=C
export LC_ALL
cd "$TMP"

# ---- a fixed store: five runs, the third is the one proven -------------

for i in 1 2 3 4 5; do
	cat >run$i.json <<EOF
{"conditions":{"model":"model-$i","system":"Answer in one word.",
 "input":"question $i","params":{"temperature":0,"seed":$i}},
 "trajectory":[{"role":"user","content":"question $i"},
  {"role":"assistant","content":"answer $i"}],
 "output":"answer $i","meta":{"start":"2025-03-0${i}T12:00:00Z"}}
EOF
done
# recorded without a key, then copied: two stores holding the same log
AIRI_STORE=$TMP/a.db AIRI_KEY=$TMP/nokey
export AIRI_STORE AIRI_KEY
for i in 1 2 3 4 5; do "$AIRI" record run$i.json >id$i; done
cp a.db b.db
AIRI_KEY=$TMP/key "$AIRI" key generate --name bundle.example >key.pub
AIRI_KEY=$TMP/otherkey "$AIRI" key generate --name bundle.example >/dev/null
AIRI_KEY=$TMP/key "$AIRI" checkpoint >/dev/null
AIRI_KEY=$TMP/otherkey AIRI_STORE=$TMP/b.db "$AIRI" checkpoint >/dev/null
AIRI_KEY=$TMP/key
for i in 1 2 3 4 5; do "$AIRI" export "$(cat id$i)" >b$i.airi; done
"$AIRI" export --withhold system,params,trajectory "$(cat id3)" >w3.airi
AIRI_STORE=$TMP/b.db "$AIRI" export "$(cat id3)" >other3.airi

# the runner strips nothing: bundles are written without the newline
for f in b1 b2 b3 b4 b5 w3 other3; do
	tr -d '\n' <$f.airi >$f.tmp && mv $f.tmp $f.airi
done
G=b3.airi
"$AIRI" verify --key key.pub $G >/dev/null
"$AIRI" verify --key key.pub w3.airi >/dev/null

cp $G "$OUT/good.airi"
cp w3.airi "$OUT/good-withheld.airi"
cp key.pub "$OUT/key.pub"

# edit NAME FILE SED-SCRIPT: writes NAME.airi from FILE, which must change
edit() {
	sed -e "$3" "$2" >"$OUT/$1.airi"
	if cmp -s "$2" "$OUT/$1.airi"; then
		echo "make.sh: the edit for $1 changed nothing" >&2
		exit 1
	fi
}

# change1 PREFIX X Y: a sed script that changes the character after PREFIX
# (a sed pattern without '|', '#' or '@') to another: X to Y, any other to X
change1() {
	printf 's|\\(%s\\)%s|\\1#|; s|\\(%s\\)[^#]|\\1@|; ' "$1" "$2" "$1"
	printf 's|\\(%s\\)#|\\1%s|; s|\\(%s\\)@|\\1%s|' "$1" "$3" "$1" "$2"
}

# rep FROM TO: a sed script replacing the literal text FROM by TO
rep() {
	f=$(printf '%s' "$1" | sed -e 's/[][\\.*^$|]/\\&/g')
	t=$(printf '%s' "$2" | sed -e 's/[\\&|]/\\&/g')
	printf 's|%s|%s|' "$f" "$t"
}

# flat members of a bundle, as text
member() { # FILE NAME
	sed -e 's/.*\("'"$2"'":{[^}]*}\).*/\1/' "$1"
}
inc3=$(member $G inclusion)
inc4=$(member b4.airi inclusion)
ent3=$(member $G entry)
ent4=$(member b4.airi entry)
h0=$(printf '%s' "$inc3" | sed -e 's/.*"hashes":\["\([^"]*\)".*/\1/')
h1=$(printf '%s' "$inc3" | sed -e 's/.*"hashes":\["[^"]*","\([^"]*\)".*/\1/')

# ---- structure ----------------------------------------------------------
head -c 700 $G >"$OUT/truncated.airi"
: >"$OUT/empty.airi"
printf 'this is not a bundle\n' >"$OUT/not-json.airi"
printf '\357\273\277' | cat - $G >"$OUT/bom.airi"
edit invalid-utf8 $G 's/"question 3"/"question \xff"/'
edit nul-byte $G 's/"question 3"/"question\x003"/'
edit duplicated-key $G 's/}$/,"type":"airi.bundle\/1"}/'
edit extra-member $G 's/^{/{"comment":"hello",/'
edit wrong-type $G 's/"type":"airi.bundle\/1"}$/"type":"airi.bundle\/2"}/'
edit wrong-media-type $G 's/application\/vnd.airi.bundle.v1+json/application\/json/'
edit missing-inclusion $G "$(rep "$inc3," "")"
edit run-extra-member $G 's/"run":{"conditions"/"run":{"note":"x","conditions"/'
edit conditions-empty $G 's/"run":{"conditions":{.*}},"meta"/"run":{"conditions":{},"meta"/'
edit section-name-invalid $G 's/"model":{"digest"/"Model":{"digest"/'
edit section-name-quote $G 's/"model":{"digest"/"mo\\"del":{"digest"/'
edit malformed-digest $G 's/\("input":{"digest":"sha256:\)\(.\)/\1X/'
edit entry-wrong-type $G 's/"type":"airi.logentry\/1"/"type":"airi.logentry\/9"/'
edit logged-at-invalid $G 's/"logged_at":"[^"]*"/"logged_at":"yesterday"/'
edit checkpoint-not-string $G 's/"checkpoint":"[^"]*"/"checkpoint":5/'

# ---- the inclusion proof ------------------------------------------------
edit type-confused-index $G 's/"index":2/"index":"2"/'
edit negative-index $G 's/"index":2/"index":-2/'
edit fractional-size $G 's/"size":5}/"size":5.5}/'
edit huge-index $G 's/"index":2/"index":9007199254740993/'
edit bad-base64-hash $G "$(rep "$h0" '!!!notbase64!!!')"
edit short-hash $G "$(rep "$h0" AAAA)"
edit reordered-proof-hashes $G "$(rep "\"$h0\",\"$h1\"" "\"$h1\",\"$h0\"")"
edit dropped-proof-hash $G "$(rep "\"$h0\"," "")"
edit index-changed $G 's/"index":2/"index":3/'
edit index-beyond-size $G 's/"index":2/"index":5/'
edit size-smaller-than-index $G 's/"size":5}/"size":2}/'
edit proof-for-other-run $G "$(rep "$inc3" "$inc4")"
edit logged-at-changed $G 's/"logged_at":"\(....\)/"logged_at":"1999/'

# ---- the run -------------------------------------------------------------
edit digest-mismatch-model $G 's/"value":"model-3"/"value":"model-4"/'
edit digest-mismatch-params $G 's/"seed":3/"seed":4/'
edit digest-mismatch-output $G 's/"output":{\("digest":"[^"]*"\),"value":"answer 3"}/"output":{\1,"value":"answer 4"}/'
edit digest-mismatch-step $G 's/"content":"answer 3"/"content":"answer 4"/'
edit step-removed $G 's/"steps":\[{[^]]*"role":"user"}},/"steps":[/'
edit entry-run-mismatch $G "$(rep "$ent3" "$ent4")"
run3=$(sed -e 's/.*\("run":{"conditions".*}\),"type":"airi.bundle\/1"}$/\1/' $G)
run4=$(sed -e 's/.*\("run":{"conditions".*}\),"type":"airi.bundle\/1"}$/\1/' b4.airi)
edit run-swapped $G "$(rep "$run3" "$run4")"
# a withheld section's digest changed: the run ID no longer matches
edit withheld-digest-changed w3.airi "$(change1 '"system":{"digest":"sha256:' 0 1)"
edit withheld-trajectory-digest-changed w3.airi "$(change1 '"trajectory":{"digest":"sha256:' 0 1)"

# ---- the checkpoint -------------------------------------------------------
cp other3.airi "$OUT/checkpoint-other-key.airi"
edit checkpoint-size-changed $G 's/\(bundle.example\\n\)5\\n/\16\\n/; s/"size":5}/"size":6}/'
edit checkpoint-root-changed $G "$(change1 'bundle.example\\n5\\n' A B)"
edit checkpoint-origin-changed $G 's/"checkpoint":"bundle.example/"checkpoint":"example.org\/airi/'
edit checkpoint-no-blank-line $G 's/\\n\\n/\\n/'
edit checkpoint-ascii-dash $G 's/\xe2\x80\x94/-/'
# one signature byte changed (the 40th base64 digit, well past the key ID)
sig=$(sed -e 's/.*\xe2\x80\x94 bundle.example \([^\\]*\)\\n".*/\1/' $G)
c=$(printf '%s' "$sig" | cut -c40)
if [ "$c" = A ]; then r=B; else r=A; fi
bad=$(printf '%s' "$sig" | sed -e "s/^\(.\{39\}\)./\1$r/")
edit flipped-signature $G "$(rep "$sig" "$bad")"
# the signature line names another key
edit signature-other-name $G 's/\xe2\x80\x94 bundle.example /\xe2\x80\x94 other.example /'

echo "make.sh: wrote $(ls "$OUT"/*.airi | wc -l) bundles to $OUT"
