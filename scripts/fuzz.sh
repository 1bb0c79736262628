#!/usr/bin/env bash
# Coverage-guided fuzzing of phrkit's parsers (cargo-fuzz, libFuzzer, nightly toolchain).
# Builds each target's seed corpus in fuzz/corpus/<target>/ from ../shared/fixtures (at run
# time: fixtures are never copied into git), then runs every target, or those named, for
# FUZZ_SECONDS seconds each (default 10: CI's "do they still compile and survive a moment").
# Installs cargo-fuzz when missing. Exits non-zero when any target crashes; the input that
# did is in fuzz/artifacts/<target>/ (replay: cargo +nightly fuzz run T fuzz/artifacts/T/F),
# each run's full log in fuzz/target/fuzz-<target>.log.
# FUZZ_DEV=1 builds the targets unoptimised (much quicker to compile, slower to run): what CI
# uses, since it only checks that they build and survive a few seconds.
# Usage: scripts/fuzz.sh                          all targets, briefly
#        FUZZ_SECONDS=600 scripts/fuzz.sh jwe_decrypt
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${FUZZ_SECONDS:-10}
FIXTURES=../shared/fixtures
ALL=(ndjson_reader import_pipeline fhir_date shlink_payload jwe_decrypt shl_manifest sphr_reader)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz (crates.io)"
  cargo install cargo-fuzz --locked
fi

# Longest input per target, bytes: enough for a few resources, a zip with attachments or a
# JWE, small enough that each run stays cheap.
max_len() {
  case $1 in
    ndjson_reader) echo 262144 ;;
    import_pipeline | sphr_reader) echo 131072 ;;
    jwe_decrypt | shl_manifest) echo 131072 ;;
    *) echo 4096 ;;
  esac
}

# Extra libFuzzer flags per target. The import starts a worker pool per run whose threads
# end just after it returns; LeakSanitizer, checking right then, reports their thread-local
# scratch buffers as leaks now and then (no input reproduces it alone), so it is off there.
extra_flags() {
  case $1 in
    import_pipeline) echo -detect_leaks=0 ;;
    *) echo ;;
  esac
}

# seed TARGET NAME [PREFIX-BYTE-OCTAL]: stdin → fuzz/corpus/TARGET/seed-NAME, optionally after
# the control byte the target reads first.
seed() {
  local dir=fuzz/corpus/$1 file=fuzz/corpus/$1/seed-$2
  mkdir -p "$dir"
  if [ $# -ge 3 ]; then
    { printf "\\$3"; cat; } >"$file"
  else
    cat >"$file"
  fi
}

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# The first entries of a Bundle (jq when present, else the file's start).
bundle_head() {
  if command -v jq >/dev/null 2>&1; then
    jq -c 'if type == "object" and has("entry") then .entry |= .[:6] else . end' "$1"
  else
    head -c 65536 "$1"
  fi
}

build_corpus() {
  if [ ! -d "$FIXTURES" ]; then
    echo "notice: $FIXTURES not found; fuzzing from empty corpora" >&2
    return
  fi
  local f n
  for f in "$FIXTURES"/phr-ig/*.phr; do
    n=$(basename "$f" .phr)
    head -n 40 "$f" | seed ndjson_reader "$n.phr"
    head -n 12 "$f" | seed import_pipeline "$n.phr" 000
  done
  for f in "$FIXTURES"/synthea/*.json "$FIXTURES"/shl/*-bundle-01.json; do
    n=$(basename "$f" .json)
    bundle_head "$f" | seed ndjson_reader "$n.json"
    bundle_head "$f" | seed import_pipeline "$n.json" 000
  done
  # The same Bundle pretty-printed, as an array, double-encoded, and after NDJSON lines.
  f="$FIXTURES/synthea/Luigi_Wiegand_e27d88b0-c5e5-4042-ad49-184f6a900ee3.json"
  if command -v jq >/dev/null 2>&1; then
    jq '.entry |= .[:4]' "$f" | seed ndjson_reader pretty.json
    jq -c '[.entry[:4][].resource]' "$f" | seed ndjson_reader array.json
    jq -c '.entry |= .[:4] | tojson' "$f" | seed ndjson_reader encoded.json
    jq -c '.entry |= .[:4] | tojson' "$f" | seed import_pipeline encoded.json 000
    { head -n 3 "$FIXTURES/phr-ig/JohnDoe.phr"; jq -c '.entry |= .[:3]' "$f"; } | seed import_pipeline mixed.phr 000
    jq -c '.entry |= .[:4]' "$f" | seed import_pipeline append-validate.json 011
  fi
  # Bundles nested far deeper than anyone writes (streaming recurses per level).
  for ((n = 0; n < 3000; n++)); do printf '{"resourceType":"Bundle","entry":[{"resource":'; done |
    { cat; printf '{}'; for ((n = 0; n < 3000; n++)); do printf '}]}'; done; } | seed ndjson_reader nested-bundles.json
  seed import_pipeline WilliamSim.sphr 000 <"$FIXTURES/phr-ig/WilliamSim.sphr"
  seed sphr_reader WilliamSim.sphr 000 <"$FIXTURES/phr-ig/WilliamSim.sphr"
  # Built mode (see fuzz_targets/sphr_reader.rs): encrypted, with a manifest, streamed.
  { printf 'WilliamSim/WilliamSim.phr\n'; head -n 6 "$FIXTURES/phr-ig/WilliamSim.phr"
    printf '\377WilliamSim/xr-chest.jpg\n'; head -c 2048 "$FIXTURES/phr-ig/WilliamSim.sphr"
  } | seed sphr_reader built-encrypted-manifest 207
  { printf 'record/record.phr\n'; head -n 3 "$FIXTURES/phr-ig/JohnDoe.phr"; printf '\377record/documents/a.pdf\n%%PDF-1.4'
  } | seed sphr_reader built-plain-manifest 005
  if command -v 7z >/dev/null 2>&1; then
    local tmp
    tmp=$(mktemp -d)
    mkdir -p "$tmp/rec" && head -n 6 "$FIXTURES/phr-ig/WilliamSim.phr" >"$tmp/rec/rec.phr"
    (cd "$tmp" && 7z a -tzip -mem=AES256 -p'fuzzing passphrase 7KQM-2XPA' x.zip rec >/dev/null)
    seed sphr_reader 7z-aes256.sphr 000 <"$tmp/x.zip"
    seed import_pipeline 7z-aes256.sphr 200 <"$tmp/x.zip"
    rm -rf "$tmp"
  fi
  # Dates: every distinct date-like string in the fixtures (the first 300; `sed`, not `head`,
  # so the pipe is read to its end and `sort` never dies of SIGPIPE under pipefail).
  n=0
  grep -ohE '"[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?"' \
    "$FIXTURES"/phr-ig/*.phr "$FIXTURES"/synthea/Luigi*.json | tr -d '"' | sort -u | sed -n '1,300p' |
    while read -r d; do n=$((n + 1)); printf '%s' "$d" | seed fhir_date "$n"; done
  # Links: bare, behind a viewer, and the payload examples encoded.
  for f in "$FIXTURES"/shl/*-shl.txt; do seed shlink_payload "$(basename "$f")" <"$f"; done
  for f in "$FIXTURES"/shl/shl-payload-*.json; do
    { printf 'shlink:/'; b64url <"$f"; } | seed shlink_payload "$(basename "$f")"
  done
  # The HL7 example writes `exp` as a string of milliseconds, which phrkit refuses: the same
  # payload with a number of seconds, so the fuzzer starts from payloads that decode.
  if command -v jq >/dev/null 2>&1; then
    for f in "$FIXTURES"/shl/shl-payload-*.json; do
      { printf 'shlink:/'; jq -c 'if .exp then .exp |= ((tonumber / 1000) | floor) else . end' "$f" | b64url; } |
        seed shlink_payload "numeric-exp-$(basename "$f")"
    done
  fi
  { printf 'https://viewer.example/#shlink:/'
    printf '%s' '{"url":"https://shl.example/api/shl/abc","flag":"P","key":"rxTgYlOaKJPFtcEd0qcceN8wEU4p94SqAwIWQe6uX7Q","label":"Pharmacy","exp":1767225600,"v":1}' | b64url
  } | seed shlink_payload viewer-link
  # JWEs: the fixtures as they are (mode 0), and raw DEFLATE behind a good tag (mode 2).
  for f in "$FIXTURES"/shl/*-enc.txt; do seed jwe_decrypt "$(basename "$f")" 000 <"$f"; done
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import sys,zlib; c=zlib.compressobj(9, zlib.DEFLATED, -15); sys.stdout.buffer.write(c.compress(sys.stdin.buffer.read(20000))+c.flush())' \
      <"$FIXTURES/shl/IPS_IG-bundle-01.json" | seed jwe_decrypt deflate 002
  fi
  head -c 4000 "$FIXTURES/shl/IPS_IG-bundle-01.json" | seed jwe_decrypt roundtrip 004
  # Manifests: the example, one whose files all decrypt, and a U link's file.
  seed shl_manifest shl-manifest-1.json 000 <"$FIXTURES/shl/shl-manifest-1.json"
  printf '%s' '{"files":[{"contentType":"application/fhir+json","embedded":"fuzz:valid"},{"contentType":"application/fhir+json","location":"https://host.example/f"},{"embedded":"fuzz:valid"}]}' |
    seed shl_manifest valid.json 000
  seed shl_manifest direct-file 020 <"$FIXTURES/shl/IPS_IG-bundle-01-enc.txt"
}

build_corpus
failed=()
for t in "${TARGETS[@]}"; do
  echo "== $t (${SECONDS_EACH}s)"
  mkdir -p "fuzz/corpus/$t"
  mkdir -p fuzz/target
  log=fuzz/target/fuzz-$t.log
  if (cd fuzz && cargo +nightly fuzz run ${FUZZ_DEV:+--dev} -a "$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
        -timeout=30 -print_final_stats=1 $(extra_flags "$t")) >"$log" 2>&1; then
    grep -E '^#[0-9]+.*(DONE|pulse)' "$log" | tail -n 1 || true
  else
    failed+=("$t")
    grep -E 'panicked|assertion|left:|right:|ERROR|SUMMARY|Failing input|artifacts/' "$log" |
      cut -c1-300 | sed -n '1,20p' >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz: ${#TARGETS[@]} targets ran ${SECONDS_EACH}s each, no crash"
