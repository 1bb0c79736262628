#!/usr/bin/env bash
# The FHIR operations with curl, as a person would use them against `phrkit serve`:
#   BASE=http://127.0.0.1:8787 TOKEN_FILE=phrkit-data/token OUT=/tmp bash server/tests/curl.sh
# Run by server/tests/fhir_stream.rs against a test server.
set -euo pipefail
: "${BASE:?}" "${TOKEN_FILE:?}" "${OUT:?}"
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 1; }

# The CapabilityStatement is public.
curl -fsS "$BASE/metadata" -o "$OUT/metadata.json"
grep -q '"resourceType":"CapabilityStatement"' "$OUT/metadata.json"
grep -q 'phr-export' "$OUT/metadata.json"

# The record as a .phr file; the token is read from its file, never typed on the command line.
curl -fsS -H "Authorization: Bearer $(cat "$TOKEN_FILE")" \
  -D "$OUT/headers.txt" -o "$OUT/record.phr" \
  "$BASE/Bundle/\$phr-export?outputFormat=phr"
grep -qi '^content-type: application/x-ndjson' "$OUT/headers.txt"
grep -qi '^content-disposition: attachment; filename=".*\.phr"' "$OUT/headers.txt"
grep -qi '^x-phr-version: 1.0' "$OUT/headers.txt"
head -c 16 "$OUT/record.phr" | grep -q '^{"resourceType"'

# Without the token: 401.
code=$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/Bundle/\$phr-export")
[ "$code" = 401 ]
echo "curl: metadata, .phr export and 401 ok"
