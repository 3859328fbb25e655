#!/bin/sh
# run.sh - the library as an application uses it: install the build into a
# temporary prefix, check that libairi.so has a SONAME and exports only
# airi_ symbols, compile examples/instrument.c with `pkg-config --cflags
# --libs airi`, run it, and check its run ID with the installed airi.
#   sh tests/install/run.sh BUILD_DIR SOURCE_DIR
build=$1
src=$2
command -v pkg-config >/dev/null 2>&1 || { echo "install: SKIP (no pkg-config)"; exit 77; }
p=$(mktemp -d "${TMPDIR:-/tmp}/airi-install.XXXXXX")
trap 'rm -rf "$p"' EXIT
fail() { echo "install: FAIL - $*"; exit 1; }
cmake --install "$build" --prefix "$p" >/dev/null || fail "cmake --install"
lib=$(ls "$p"/lib*/libairi.so 2>/dev/null | head -1)
[ -n "$lib" ] || fail "no libairi.so installed"
so=$(objdump -p "$lib" 2>/dev/null | awk '/SONAME/ {print $2}')
[ "$so" = "libairi.so.0" ] && echo "ok SONAME $so" || fail "SONAME is '$so'"
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^airi_' | grep -v '^_' | head -5)
[ -z "$bad" ] && echo "ok only airi_ symbols exported" || fail "also exported: $bad"
[ -f "$p/include/airi.h" ] && echo "ok airi.h installed" || fail "airi.h"
pc=$(dirname "$lib")/pkgconfig
[ -f "$pc/airi.pc" ] || fail "airi.pc"
# shellcheck disable=SC2086
PKG_CONFIG_PATH=$pc cc -Wall -Wextra -Werror ${AIRI_EXAMPLE_CFLAGS:-} -o "$p/instrument" "$src/examples/instrument.c" \
	$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs airi) || fail "compile with pkg-config"
echo "ok compiled with pkg-config"
id=$(LD_LIBRARY_PATH=$(dirname "$lib") "$p/instrument" "$p/s.db") || fail "instrument failed"
case $id in sha256:*) ;; *) fail "no run ID: $id" ;; esac
man=$("$p/bin/airi" show --manifest --store "$p/s.db" "$id") || fail "the run is not in the store"
again=$(printf '%s' "$man" | "$p/bin/airi" id -)
[ "$again" = "$id" ] && echo "ok the recorded run rebuilds to the same ID" || fail "$again != $id"
"$p/bin/airi" check --store "$p/s.db" "$id" >/dev/null && echo "ok verdict pinned" || fail "not pinned"
