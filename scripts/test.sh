#!/usr/bin/env bash
# Runs every test of phrkit on a fresh machine: installs what is missing, checks formatting
# and lints, runs the Rust tests (unit, integration, fixtures), the Kotlin SDK on a JVM, the demo
# once, the link viewer in headless Chromium, and every fuzz target for a few seconds.
# One debug build is shared by all steps. Benchmarks are not run here (see README).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# tool:debian-package pairs the tests call
for tool in 7z:p7zip-full zbarimg:zbar-tools rsvg-convert:librsvg2-bin chromium:chromium chromedriver:chromium-driver; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool##*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! python3 -c "import jwcrypto" 2>/dev/null; then
  echo "== installing jwcrypto (PyPI)"
  python3 -m pip install -q "jwcrypto==1.6.1"
fi
if ! python3 -c "import selenium" 2>/dev/null; then
  echo "== installing selenium (PyPI), the WebDriver client of the viewer tests"
  python3 -m pip install -q "selenium==4.51.0"
fi
if [ ! -d tests/interop/node_modules/kill-the-clipboard ]; then
  echo "== installing kill-the-clipboard (npm)"
  (cd tests/interop && npm ci --no-audit --no-fund --silent)
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -q -- -D warnings

echo "== cargo test"
cargo test --workspace --no-fail-fast 2>&1 | tee target/test-output.txt | grep -E '^(test result|running|error|failures:|---- )|panicked' || true
if grep -qE '^test result: FAILED|^error(\[|:)' target/test-output.txt; then
  echo "tests failed; full output in target/test-output.txt" >&2
  exit 1
fi

echo "== Kotlin SDK on the JVM"
./scripts/kotlin-tests.sh 2>&1 | tee target/kotlin-output.txt | grep -E '^(==|.*passed, .*failed)' || true
kotlin_line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' target/kotlin-output.txt | tail -n 1 || true)
if [ -z "$kotlin_line" ] || ! echo "$kotlin_line" | grep -q ' 0 failed$'; then
  echo "Kotlin tests failed; full output in target/kotlin-output.txt" >&2
  tail -n 40 target/kotlin-output.txt >&2
  exit 1
fi

echo "== Swift bindings"
./scripts/swift-check.sh | tail -n 1

echo "== phrkit demo"
cargo run -q -p phrkit-cli -- demo >target/demo-output.txt
tail -n 3 target/demo-output.txt
# The pharmacy step must show current prescriptions (the headline use case).
if ! grep -q '^  prescription: ' target/demo-output.txt; then
  echo "the demo's pharmacy link carried no prescriptions; see target/demo-output.txt" >&2
  exit 1
fi

echo "== the viewer in headless Chromium"
python3 tests/viewer/test_viewer.py 2>&1 | tee target/viewer-output.txt | grep -E '^(ok|FAIL|viewer)' || true
if ! grep -q '^viewer: all passed$' target/viewer-output.txt; then
  echo "viewer tests failed; full output in target/viewer-output.txt" >&2
  tail -n 30 target/viewer-output.txt >&2
  exit 1
fi
viewer_passed=$(grep -c '^ok ' target/viewer-output.txt)

echo "== fuzz targets: they build, and each survives a few seconds from its seeds"
if ! FUZZ_DEV=1 FUZZ_SECONDS="${FUZZ_SECONDS:-5}" ./scripts/fuzz.sh >target/fuzz-output.txt 2>&1; then
  echo "a fuzz target failed to build or crashed; see target/fuzz-output.txt" >&2
  tail -n 30 target/fuzz-output.txt >&2
  exit 1
fi
tail -n 1 target/fuzz-output.txt

passed=$(grep -oE 'test result: ok\. [0-9]+ passed' target/test-output.txt | awk '{s+=$4} END {print s+0}')
kotlin_passed=${kotlin_line%% passed*}
echo "rust: ${passed} passed; kotlin: ${kotlin_passed} passed; viewer: ${viewer_passed} passed"
echo "$((passed + kotlin_passed + viewer_passed)) passed, 0 failed"
