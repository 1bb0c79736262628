#!/usr/bin/env bash
# Benchmark (not CI): import and .sphr export of a generated 200,000-resource record through
# the Kotlin SDK on the JVM vs the phrkit CLI, same file, same machine, one run each.
# Release build of the CLI and the cdylib. Needs the tools scripts/kotlin-tests.sh installs.
# Usage: scripts/bench-kotlin.sh [resources-per-patient]   (default 200000)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
KT=.tools/kotlinc-2.4.20
JNA=/usr/share/java/jna.jar
[ -x "$KT/bin/kotlinc" ] && [ -f "$JNA" ] || { echo "run scripts/kotlin-tests.sh once first (installs kotlinc and JNA)" >&2; exit 1; }

echo "== cargo build --release (CLI, cdylib, bindgen)"
cargo build -q --release -p phrkit-cli -p phrkit-ffi
cargo build -q -p phrkit-uniffi-bindgen
W=target/bench-kotlin
rm -rf "$W" && mkdir -p "$W"
target/debug/uniffi-bindgen generate --no-format --config uniffi.toml \
  --library target/release/libphrkit_ffi.so --language kotlin --out-dir "$W/gen"
"$KT/bin/kotlinc" -nowarn $(find "$W/gen" bindings/bench/kotlin -name '*.kt') -cp "$JNA" -d "$W/bench.jar"

INPUT="$W/record-$N.ndjson"
echo "== generate $N resources"
target/release/phrkit generate --patients 1 --resources-per-patient "$N" -o "$INPUT"
ls -la "$INPUT"
printf 'bench passphrase' > "$W/pass.txt"

echo "== phrkit CLI"
measure() { # label, command…: wall seconds and peak RSS of the process
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$W/time.txt" "$@" >/dev/null
  read -r secs kib < "$W/time.txt"
  echo "cli $label: $secs s, peak RSS $((kib / 1024)) MiB"
}
measure import target/release/phrkit import "$INPUT" --db "$W/cli.db"
measure "export sphr" target/release/phrkit export --db "$W/cli.db" --format sphr --passphrase-file "$W/pass.txt" -o "$W/cli.sphr"

echo "== Kotlin SDK on the JVM"
java -Xmx512m -Djna.library.path=target/release -cp "$W/bench.jar:$JNA:$KT/lib/kotlin-stdlib.jar" \
  dev.phrkit.bench.BenchKt "$INPUT" "$W" "bench passphrase"
ls -la "$W/cli.sphr" "$W/kotlin.sphr"
