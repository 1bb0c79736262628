#!/usr/bin/env bash
# The Kotlin SDK on the host JVM: builds the cdylib (debug, shared with the Rust tests),
# generates the Kotlin bindings in library mode, compiles them and the tests with kotlinc
# (npm `kotlin-compiler`, installed into .tools/), and runs the tests with the JUnit console
# against Debian's JNA. Installs what is missing (npm package, apt packages). Ends with a
# line `N passed, N failed`; exits non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

KOTLIN_VERSION=2.4.20
TOOLS=.tools
KT="$TOOLS/kotlinc-$KOTLIN_VERSION"
JNA=/usr/share/java/jna.jar
JUNIT=/usr/share/java/junit-platform-console-standalone.jar

if [ ! -f "$JNA" ] || [ ! -f "$JUNIT" ]; then
  echo "== installing libjna-java junit5 (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq libjna-java junit5 >/dev/null
fi
if [ ! -x "$KT/bin/kotlinc" ]; then
  echo "== installing kotlin-compiler@$KOTLIN_VERSION (npm) into $KT"
  mkdir -p "$TOOLS"
  tmp=$(mktemp -d "$TOOLS/kotlinc.XXXX")
  (cd "$tmp" && npm pack --silent "kotlin-compiler@$KOTLIN_VERSION" >/dev/null && tar xzf kotlin-compiler-*.tgz)
  rm -rf "$KT" && mv "$tmp/package" "$KT" && rm -rf "$tmp"
  chmod +x "$KT"/bin/*
fi

echo "== cargo build (cdylib, bindgen, test host)"
# One invocation, so the three share one feature resolution (and the debug build of
# `cargo test --workspace`) instead of compiling the core twice.
cargo build -q -p phrkit-ffi -p phrkit-uniffi-bindgen --lib --bins --examples

OUT=target/kt
rm -rf "$OUT" target/bindings/kotlin
mkdir -p "$OUT"
echo "== uniffi-bindgen generate kotlin"
target/debug/uniffi-bindgen generate --no-format --config uniffi.toml \
  --library target/debug/libphrkit_ffi.so --language kotlin --out-dir target/bindings/kotlin

echo "== kotlinc: bindings and sample-app logic"
# The sample app's plain-Kotlin logic (no Android imports) is compiled and tested here too.
APP_LOGIC=android/app/src/main/java/dev/phrkit/sample/logic
"$KT/bin/kotlinc" -nowarn $(find target/bindings/kotlin "$APP_LOGIC" -name '*.kt') \
  -cp "$JNA" -d "$OUT/bindings.jar" 2>&1 | grep -v '^warning' || true
[ -f "$OUT/bindings.jar" ] || { echo "kotlinc failed on the bindings" >&2; exit 1; }

TESTCP="$OUT/bindings.jar:$JNA:$KT/lib/kotlin-test.jar:$KT/lib/kotlin-test-junit5.jar"
TESTCP="$TESTCP:/usr/share/java/junit-jupiter-api.jar:/usr/share/java/opentest4j.jar"
TESTCP="$TESTCP:/usr/share/java/apiguardian-api.jar:/usr/share/java/junit-platform-commons.jar"
echo "== kotlinc: tests"
"$KT/bin/kotlinc" -nowarn $(find bindings/tests/kotlin -name '*.kt') -cp "$TESTCP" -d "$OUT/tests"

echo "== JUnit on the JVM"
set +e
java -Djna.library.path=target/debug \
  -Dphrkit.fixtures="${PHRKIT_FIXTURES:-../shared/fixtures}" \
  -Dphrkit.testHost=target/debug/examples/phrkit-test-host \
  -jar "$JUNIT" -cp "$OUT/tests:$TESTCP:$KT/lib/kotlin-stdlib.jar" \
  --scan-classpath "$OUT/tests" --include-classname '.*' --fail-if-no-tests \
  --disable-banner --details=tree --details-theme=ascii \
  --reports-dir "$OUT/reports" | tee "$OUT/junit.txt"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -oE '[0-9]+ tests successful' "$OUT/junit.txt" | grep -oE '^[0-9]+' || echo 0)
failed=$(grep -oE '[0-9]+ tests failed' "$OUT/junit.txt" | grep -oE '^[0-9]+' || echo 0)
echo "${passed} passed, ${failed} failed"
exit "$status"
