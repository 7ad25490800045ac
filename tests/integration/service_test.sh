#!/usr/bin/env bash
# Starts examples/segmentation_service on loopback and drives every endpoint
# with curl: a bad token, an oversized body, malformed JSON, unknown ids.
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
"$bin/retarget_service" --data-dir "$tmp/data" --plugins "$plugins" --port 0 --token-file "$tmp/token" \
  --max-body-bytes 4096 > "$tmp/out" 2> "$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q listening "$tmp/out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$tmp/out")
url="http://127.0.0.1:$port"
auth=(-H "Authorization: Bearer s3cret")

passed=0; failed=0
check() {  # name, expected status, curl args... ; body lands in $tmp/body
  local name="$1" want="$2"; shift 2
  local got
  got=$(curl -s -o "$tmp/body" -w '%{http_code}' "$@")
  if [[ "$got" == "$want" ]]; then passed=$((passed+1)); echo "ok   $name ($got)";
  else failed=$((failed+1)); echo "FAIL $name: status $got, wanted $want: $(head -c 300 "$tmp/body")"; fi
}
body_has() {  # name, text
  if grep -q -- "$2" "$tmp/body"; then passed=$((passed+1)); echo "ok   $1";
  else failed=$((failed+1)); echo "FAIL $1: body lacks $2: $(head -c 300 "$tmp/body")"; fi
}

check "no token" 401 -X POST "$url/segments/win_back/members"
body_has "401 answers JSON" '"error"'
check "bad token" 401 -X POST -H "Authorization: Bearer wrong" "$url/segments/win_back/members"
check "members" 200 -X POST "${auth[@]}" -d "{}" "$url/segments/spring_openers_de/members"
body_has "members warn about expired data" 'expired data excluded: campaign:spring_sale'
check "members of an unknown segment" 404 -X POST "${auth[@]}" -d "{}" "$url/segments/nope/members"
check "users export" 201 -X POST "${auth[@]}" -H 'Content-Type: application/json' \
  -d '{"external_ids": ["u42", "nobody"], "fields_to_export": ["custom_attributes"]}' "$url/users/export/ids"
body_has "export has custom_attributes" '"custom_attributes"'
body_has "export names invalid ids" '"nobody"'
body_has "fields_to_export filters the rest out" '"external_id"'
if grep -q campaigns_received "$tmp/body"; then failed=$((failed+1)); echo "FAIL fields_to_export kept campaigns_received"; else passed=$((passed+1)); echo "ok   fields_to_export drops other fields"; fi
check "malformed JSON" 400 -X POST "${auth[@]}" -d '{"external_ids": [' "$url/users/export/ids"
body_has "400 answers JSON" '"error"'
check "wrong type" 400 -X POST "${auth[@]}" -d '{"external_ids": "u42"}' "$url/users/export/ids"
head -c 10000 /dev/zero | tr '\0' 'a' > "$tmp/big"
check "oversized body" 413 -X POST "${auth[@]}" --data-binary "@$tmp/big" "$url/users/export/ids"
check "lifecycle" 200 "${auth[@]}" "$url/lifecycle"
body_has "spring_sale is expired" '"tier": "expired"'
check "restore" 202 -X POST "${auth[@]}" -d "{}" "$url/campaigns/spring_sale/restore"
body_has "restore names the source" 'campaign:spring_sale'
for _ in $(seq 50); do
  curl -s -X POST "${auth[@]}" -d "{}" "$url/segments/spring_openers_de/members" > "$tmp/body"
  grep -q '"u42"' "$tmp/body" && break; sleep 0.1
done
body_has "after the restore, members include u42" '"u42"'
check "restore an unknown campaign" 404 -X POST "${auth[@]}" -d "{}" "$url/campaigns/nope/restore"
check "unknown endpoint" 404 "${auth[@]}" "$url/nothing-here"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
