#!/bin/sh
# run.sh — runs the airi oracle tests (jcs.js, numbers.js, identity.js,
# corpus.js) with Node.js.  Used by ctest; exit 0 = all passed, 1 = a check failed,
# 77 = skipped (node or the airi binary missing; ctest SKIP_RETURN_CODE).
# The binary is taken from $AIRI_BIN (default: <repo>/build/airi).
# Optional arguments select a subset: run.sh numbers jcs
dir=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null 2>&1; then
  echo "oracle: SKIP — node not found"
  exit 77
fi
AIRI_BIN=${AIRI_BIN:-$dir/../../build/airi}
export AIRI_BIN
if [ ! -x "$AIRI_BIN" ]; then
  echo "oracle: SKIP — airi binary not found or not executable: $AIRI_BIN"
  exit 77
fi
[ $# -gt 0 ] || set -- jcs numbers identity corpus
failed=0; passed=0
for t in "$@"; do
  node "$dir/$t.js"
  rc=$?
  case $rc in
    0) passed=$((passed + 1)) ;;
    77) ;;
    *) echo "oracle: $t.js FAILED (exit $rc)"; failed=1 ;;
  esac
done
[ $failed -eq 0 ] || exit 1
[ $passed -gt 0 ] || exit 77
echo "oracle: all passed"
exit 0
