#!/usr/bin/env bash
# Starts examples/segmentation_service on loopback and drives every endpoint
# with curl: tokens, every route's 4xx cases and the JSON error shape, body
# limits (Content-Length and chunked), invalid UTF-8, body-less POSTs, the
# streamed ingest (POST /events), --now, the start-up refusals and a graceful
# stop. The raw-socket attacks (slow clients, header floods, a full queue) are
# in tests/service/ (service_tests).
# Usage: service_test.sh BIN_DIR PLUGIN_DIR SOURCE_DIR
set -uo pipefail
bin="$1"; plugins="$2"; source="$3"
tmp=$(mktemp -d)
cleanup() { [[ -n "${pid:-}" ]] && kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
r=("$bin/retarget" --plugins "$plugins" --data-dir "$tmp/data" --now 2026-06-15T12:00:00Z)
"${r[@]}" catalog apply "$source/examples/data/catalog.yaml" >/dev/null 2>&1
"${r[@]}" ingest "$source/examples/data/events.jsonl" >/dev/null 2>&1
"${r[@]}" rules apply "$source/rules/examples.yaml" >/dev/null 2>&1
"${r[@]}" campaign stop summer_launch >/dev/null
"${r[@]}" canvas stop onboarding >/dev/null
"${r[@]}" card stop card_spring >/dev/null
"$bin/retarget" --plugins "$plugins" --data-dir "$tmp/data" --now 2027-01-01T00:00:00Z lifecycle sweep >/dev/null
echo "s3cret" > "$tmp/token"

passed=0; failed=0
pass() { passed=$((passed+1)); echo "ok   $1"; }
fail() { failed=$((failed+1)); echo "FAIL $1"; }

start_service() {  # args...; sets pid and url, fails the test when it does not start
  : > "$tmp/out"
  "$bin/retarget_service" --data-dir "$tmp/data" --plugins "$plugins" --port 0 "$@" > "$tmp/out" 2> "$tmp/err" &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$tmp/out" 2>/dev/null && break; sleep 0.1; done
  port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/out")
  url="http://127.0.0.1:$port"
  if [[ -z "$port" ]]; then
    fail "the service did not start with $*: $(head -c 300 "$tmp/err")"
    echo "$passed passed, $failed failed"; exit 1
  fi
}
stop_service() {  # SIGTERM; the exit code must be 0 within 15 s
  kill -TERM "$pid"
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then fail "SIGTERM: still running after 15 s"; kill -9 "$pid"; fi
  wait "$pid"; local code=$?
  pid=""
  [[ $code -eq 0 ]] && pass "stops on SIGTERM with exit code 0" || fail "SIGTERM: exit code $code"
}

# The flags the service has always had first, then the new ones (so the old
# routes' checks also run against an older build).
start_service --token-file "$tmp/token" --max-body-bytes 4096
auth=(-H "Authorization: Bearer s3cret")

check() {  # name, expected status, curl args... ; body lands in $tmp/body
  local name="$1" want="$2"; shift 2
  local got
  got=$(curl -s -o "$tmp/body" -w '%{http_code}' --max-time 20 "$@")
  if [[ "$got" == "$want" ]]; then pass "$name ($got)";
  else fail "$name: status $got, wanted $want: $(head -c 300 "$tmp/body")"; fi
}
body_has() {  # name, text
  if grep -q -- "$2" "$tmp/body"; then pass "$1";
  else fail "$1: body lacks $2: $(head -c 300 "$tmp/body")"; fi
}
error_is() {  # name, code: {"error": {"code": CODE, "message": "..."}}
  if python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))["error"]
assert e["code"] == sys.argv[2] and isinstance(e["message"], str) and e["message"], e
' "$tmp/body" "$2" 2>/dev/null; then pass "$1: error $2"; else fail "$1: not {\"error\": {\"code\": \"$2\", ...}}: $(head -c 300 "$tmp/body")"; fi
}

# --- tokens ---------------------------------------------------------------------
check "no token" 401 -X POST "$url/segments/win_back/members"
error_is "no token" unauthorized
check "bad token" 401 -X POST -H "Authorization: Bearer wrong" "$url/segments/win_back/members"
check "token prefix" 401 -X POST -H "Authorization: Bearer s3cre" "$url/segments/win_back/members"
check "token longer" 401 -X POST -H "Authorization: Bearer s3crets" "$url/segments/win_back/members"
check "no Bearer scheme" 401 -X POST -H "Authorization: s3cret" "$url/segments/win_back/members"
check "token in the URL is not accepted" 401 -X POST "$url/segments/win_back/members?token=s3cret"
check "access_token in the URL is not accepted" 401 "$url/lifecycle?access_token=s3cret"
check "unknown endpoint without a token" 401 "$url/nothing-here"

# --- POST /segments/{id}/members ------------------------------------------------
check "members" 200 -X POST "${auth[@]}" -d "{}" "$url/segments/spring_openers_de/members"
body_has "members warn about expired data" 'expired data excluded: campaign:spring_sale'
check "members, body-less POST" 200 -X POST "${auth[@]}" "$url/segments/spring_openers_de/members"
body_has "body-less members answers the segment" '"segment": "spring_openers_de"'
check "members, one page" 200 -X POST "${auth[@]}" -d '{"limit": 1}' "$url/segments/spring_openers_de/members"
if python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if len(j["members"]) <= 1 and (j["count"] <= 1) == ("next_after" not in j) else 1)' "$tmp/body"; then
  pass "members, one page: at most 1 member, next_after exactly when more follow"
else
  fail "members, one page: $(head -c 300 "$tmp/body")"
fi
check "members, negative limit" 400 -X POST "${auth[@]}" -d '{"limit": -1}' "$url/segments/spring_openers_de/members"
error_is "members, negative limit" invalid_argument
check "members, cursor not a string" 400 -X POST "${auth[@]}" -d '{"after": 5}' "$url/segments/spring_openers_de/members"
error_is "members, cursor not a string" invalid_argument
check "members of an unknown segment" 404 -X POST "${auth[@]}" -d "{}" "$url/segments/nope/members"
error_is "members of an unknown segment" not_found
check "members, invalid UTF-8 id" 400 -X POST "${auth[@]}" -d "{}" "$url/segments/%FF%FE/members"
error_is "members, invalid UTF-8 id" invalid_utf8
check "members, malformed escape" 400 -X POST "${auth[@]}" -d "{}" "$url/segments/%G1/members"
check "members, body not an object" 400 -X POST "${auth[@]}" -d "[1]" "$url/segments/win_back/members"
error_is "members, body not an object" invalid_json
check "members, GET" 405 "${auth[@]}" "$url/segments/win_back/members"
error_is "members, GET" method_not_allowed

# --- POST /users/export/ids -----------------------------------------------------
check "users export" 201 -X POST "${auth[@]}" -H 'Content-Type: application/json' \
  -d '{"external_ids": ["u42", "nobody"], "fields_to_export": ["custom_attributes"]}' "$url/users/export/ids"
body_has "export has custom_attributes" '"custom_attributes"'
body_has "export names invalid ids" '"nobody"'
body_has "fields_to_export filters the rest out" '"external_id"'
if grep -q campaigns_received "$tmp/body"; then fail "fields_to_export kept campaigns_received"; else pass "fields_to_export drops other fields"; fi
check "malformed JSON" 400 -X POST "${auth[@]}" -d '{"external_ids": [' "$url/users/export/ids"
error_is "malformed JSON" invalid_json
check "export, wrong type" 400 -X POST "${auth[@]}" -d '{"external_ids": "u42"}' "$url/users/export/ids"
error_is "export, wrong type" invalid_argument
check "export, body-less POST" 400 -X POST "${auth[@]}" "$url/users/export/ids"
error_is "export, body-less POST (no external_ids)" invalid_argument
check "export, a number among the ids" 400 -X POST "${auth[@]}" -d '{"external_ids": ["u42", 7]}' "$url/users/export/ids"
ids=$(python3 -c 'import json; print(json.dumps({"external_ids": ["u%d" % i for i in range(51)]}))')
check "export, 51 ids" 400 -X POST "${auth[@]}" -d "$ids" "$url/users/export/ids"
check "export, fields_to_export not an array" 400 -X POST "${auth[@]}" -d '{"external_ids": [], "fields_to_export": "x"}' "$url/users/export/ids"
check "export, fields_to_export with a number" 400 -X POST "${auth[@]}" -d '{"external_ids": [], "fields_to_export": [1]}' "$url/users/export/ids"
printf '{"external_ids": ["\xff\xfe"]}' > "$tmp/badutf8"
check "export, invalid UTF-8 body" 400 -X POST "${auth[@]}" --data-binary "@$tmp/badutf8" "$url/users/export/ids"
error_is "export, invalid UTF-8 body" invalid_utf8
head -c 10000 /dev/zero | tr '\0' 'a' > "$tmp/big"
check "oversized body" 413 -X POST "${auth[@]}" --data-binary "@$tmp/big" "$url/users/export/ids"
error_is "oversized body" body_too_large
check "oversized chunked body" 413 -X POST "${auth[@]}" -H "Transfer-Encoding: chunked" --data-binary "@$tmp/big" "$url/users/export/ids"
error_is "oversized chunked body" body_too_large
check "chunked body within the limit" 201 -X POST "${auth[@]}" -H "Transfer-Encoding: chunked" -d '{"external_ids": ["u42"]}' "$url/users/export/ids"
check "export, GET" 405 "${auth[@]}" "$url/users/export/ids"

# --- GET /lifecycle -------------------------------------------------------------
check "lifecycle" 200 "${auth[@]}" "$url/lifecycle"
body_has "spring_sale is expired" '"tier": "expired"'
check "lifecycle, POST" 405 -X POST "${auth[@]}" "$url/lifecycle"
error_is "lifecycle, POST" method_not_allowed

# --- POST /campaigns/{id}/restore -----------------------------------------------
check "restore an unknown campaign" 404 -X POST "${auth[@]}" -d "{}" "$url/campaigns/nope/restore"
error_is "restore an unknown campaign" not_found
check "restore, body not an object" 400 -X POST "${auth[@]}" -d '"x"' "$url/campaigns/spring_sale/restore"
check "restore, invalid UTF-8 id" 400 -X POST "${auth[@]}" "$url/campaigns/%C3%28/restore"
check "restore, body-less POST" 202 -X POST "${auth[@]}" "$url/campaigns/spring_sale/restore"
body_has "restore names the source" 'campaign:spring_sale'
for _ in $(seq 50); do
  curl -s --max-time 5 -X POST "${auth[@]}" -d "{}" "$url/segments/spring_openers_de/members" > "$tmp/body"
  grep -q '"u42"' "$tmp/body" && break; sleep 0.1
done
body_has "after the restore, members include u42" '"u42"'
check "restore, GET" 405 "${auth[@]}" "$url/campaigns/spring_sale/restore"
check "unknown endpoint" 404 "${auth[@]}" "$url/nothing-here"
error_is "unknown endpoint" not_found

stop_service
start_service --token-file "$tmp/token" --max-body-bytes 4096 --max-ingest-bytes 65536 --ingest-block-bytes 2048 \
  --now 2027-01-01T00:00:00Z

# --- POST /events (streamed ingest) ---------------------------------------------
check "events, the example file again (its 2 bad lines rejected again)" 200 -X POST "${auth[@]}" --data-binary "@$source/examples/data/events.jsonl" "$url/events"
python3 - "$tmp/body" "$source/examples/data/events.jsonl" <<'EOF' && pass "events: every good line a duplicate, the same lines rejected as by the command line" || fail "events report: $(head -c 300 "$tmp/body")"
import json, sys
r = json.load(open(sys.argv[1]))
n = sum(1 for l in open(sys.argv[2]) if l.strip())
assert r["lines"] == n and r["accepted"] == 0 and r["duplicates"] + r["rejected"] == n, r
assert [x["line"] for x in r["rejections"]] == [25, 26], r
EOF
{
  echo '{"time":"2026-12-01T10:00:00Z","user":"u_http1","type":"received","campaign":"summer_launch","channel":"email"}'
  echo 'not json'
  echo
  printf '{"time":"2026-12-01T10:00:00Z","user":"u_\xff","type":"received","campaign":"summer_launch","channel":"email"}\n'
  # Past the 2048-byte block: the line numbers go on counting from the start of the body.
  for i in $(seq 40); do echo "{\"time\":\"2026-12-01T10:00:00Z\",\"user\":\"u_http_$i\",\"type\":\"received\",\"campaign\":\"summer_launch\",\"channel\":\"email\"}"; done
  echo '{"time":"bad time","user":"u_http2","type":"received","campaign":"summer_launch"}'
} > "$tmp/events.jsonl"
check "events with rejected lines answer 200" 200 -X POST "${auth[@]}" -H "Transfer-Encoding: chunked" --data-binary "@$tmp/events.jsonl" "$url/events"
python3 - "$tmp/body" <<'EOF' && pass "events: the report names each rejected line" || fail "events report: $(head -c 600 "$tmp/body")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["lines"] == 44 and r["accepted"] == 41 and r["rejected"] == 3, r
assert [x["line"] for x in r["rejections"]] == [2, 4, 45], r["rejections"]
assert all(x["reason"] for x in r["rejections"])
EOF
check "events: the ingested user is exported" 201 -X POST "${auth[@]}" -d '{"external_ids": ["u_http_40"]}' "$url/users/export/ids"
if grep -q '"invalid_user_ids": \[\]' "$tmp/body" || ! grep -q '"invalid_user_ids": \[[^]]*u_http_40' "$tmp/body"; then pass "events: u_http_40 is known"; else fail "events: u_http_40 unknown: $(head -c 300 "$tmp/body")"; fi
check "events as Server-Sent Events" 200 -N -X POST "${auth[@]}" -H "Accept: text/event-stream" --data-binary "@$tmp/events.jsonl" "$url/events"
body_has "SSE: progress once a block is durable" '^event: durable'
body_has "SSE: the report last" '^event: report'
head -c 70000 /dev/zero | tr '\0' '\n' > "$tmp/bigevents"
check "events over --max-ingest-bytes" 413 -X POST "${auth[@]}" --data-binary "@$tmp/bigevents" "$url/events"
error_is "events over --max-ingest-bytes" body_too_large
check "events over --max-ingest-bytes, chunked" 413 -X POST "${auth[@]}" -H "Transfer-Encoding: chunked" --data-binary "@$tmp/bigevents" "$url/events"
check "events without a token" 401 -X POST --data-binary "@$tmp/events.jsonl" "$url/events"
check "events, body-less POST" 200 -X POST "${auth[@]}" "$url/events"
body_has "empty ingest" '"lines": 0'

# --- streamed exports -------------------------------------------------------------
check "recipients of a campaign (streamed CSV)" 200 -D "$tmp/headers" "${auth[@]}" "$url/campaigns/spring_sale/recipients"
body_has "recipients CSV header" '^external_id,country,lifetime_value'
body_has "recipients include u42 (restored)" '^u42,DE'
if grep -qi '^transfer-encoding: chunked' "$tmp/headers" && grep -qi '^content-type: text/csv' "$tmp/headers"; then pass "recipients: chunked text/csv"; else fail "recipients headers: $(cat "$tmp/headers")"; fi
check "recipients of a Canvas step" 200 "${auth[@]}" "$url/canvases/onboarding/recipients?step=day3"
body_has "Canvas step column" ',last_received,step'
check "recipients of an unknown campaign" 404 "${auth[@]}" "$url/campaigns/nope/recipients"
error_is "recipients of an unknown campaign" not_found
check "recipients without a token" 401 "$url/campaigns/spring_sale/recipients"
check "recipients, invalid UTF-8 query" 400 "${auth[@]}" "$url/canvases/onboarding/recipients?step=%FF"

# --- --now fixes the engine clock -----------------------------------------------
check "win_back at 2027-01-01" 200 -X POST "${auth[@]}" "$url/segments/win_back/members"
late=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["count"])' "$tmp/body")
stop_service
start_service --token-file "$tmp/token" --now 2026-03-01T00:00:00Z
check "win_back at 2026-03-01" 200 -X POST "${auth[@]}" "$url/segments/win_back/members"
early=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["count"])' "$tmp/body")
if [[ "$early" == 0 && "$late" -gt 0 ]]; then pass "--now moves the evaluation clock ($early then, $late later)"; else fail "--now: win_back $early at 2026-03-01, $late at 2027-01-01"; fi
stop_service

# --- start-up refusals ----------------------------------------------------------
refused() {  # name, args...: exit code 2 without listening
  local name="$1"; shift
  "$bin/retarget_service" --data-dir :memory: --plugins "$plugins" --port 0 "$@" > "$tmp/out2" 2> "$tmp/err2" &
  local p=$!
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$p" 2>/dev/null; then kill -9 "$p"; wait "$p" 2>/dev/null; fail "$name: started"; return; fi
  wait "$p"; local code=$?
  if [[ $code -eq 2 ]] && ! grep -q listening "$tmp/out2"; then pass "$name: refused ($(head -c 120 "$tmp/err2"))"
  else fail "$name: exit code $code: $(cat "$tmp/out2" "$tmp/err2" | head -c 300)"; fi
}
refused "0.0.0.0 without a token" --host 0.0.0.0
refused ":: without a token" --host ::
refused "a host name" --host example.org
refused "a bad --now" --now yesterday
echo -n "" > "$tmp/empty_token"
refused "an empty token file" --token-file "$tmp/empty_token"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
