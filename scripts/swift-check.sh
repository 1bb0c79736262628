#!/usr/bin/env bash
# The Swift SDK, as far as this machine can check it (no Swift compiler on Linux here):
# generates the Swift bindings, C header and modulemap from the debug library (fails if
# generation fails), checks the header parses as C, and links a C program against the
# library through it. The Swift itself is compiled on a Mac (ios/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo build (library, bindgen)"
cargo build -q -p phrkit-ffi -p phrkit-uniffi-bindgen

OUT=target/bindings/swift
rm -rf "$OUT" && mkdir -p "$OUT"
echo "== uniffi-bindgen generate swift"
target/debug/uniffi-bindgen generate --no-format --config uniffi.toml \
  --library target/debug/libphrkit_ffi.so --language swift --out-dir "$OUT"
for f in PhrKit.swift PhrKitFFI.h PhrKitFFI.modulemap; do
  [ -s "$OUT/$f" ] || { echo "missing $OUT/$f" >&2; exit 1; }
done
grep -q 'open class PhrStore' "$OUT/PhrKit.swift" || { echo "PhrStore missing from PhrKit.swift" >&2; exit 1; }
grep -q 'module PhrKitFFI' "$OUT/PhrKitFFI.modulemap" || { echo "modulemap does not name PhrKitFFI" >&2; exit 1; }

echo "== header: C syntax check and a link against the library"
gcc -Wno-pragma-once-outside-header -D_Nullable= -D_Nonnull= -fsyntax-only -x c "$OUT/PhrKitFFI.h"
cat > "$OUT/link-check.c" <<'C'
#include "PhrKitFFI.h"
#include <stdio.h>
int main(void) {
    /* The contract version the Swift side checks at load time. */
    printf("uniffi contract %u\n", ffi_phrkit_ffi_uniffi_contract_version());
    return 0;
}
C
gcc -D_Nullable= -D_Nonnull= -I"$OUT" "$OUT/link-check.c" -Ltarget/debug -lphrkit_ffi -o "$OUT/link-check"
LD_LIBRARY_PATH=target/debug "$OUT/link-check"
echo "swift bindings: generated, header parses, library links"
