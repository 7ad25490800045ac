#!/usr/bin/env bash
# Ctrl-C (SIGINT) and SIGTERM during `retarget ingest`: it stops, commits what
# it read, exits 1 naming the last durable line; ingesting the input from the
# next line completes it exactly: nothing lost, nothing twice (no duplicates),
# the same counts as one uninterrupted ingest.
#   tests/integration/ingest_interrupt_test.sh BIN_DIR WORK_DIR
set -euo pipefail
bin=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work"
# 400,000 distinct events (every line its own second: no line repeats another).
mkdir -p gen
python3 - <<'PY'
import datetime, random
random.seed(3)
with open("gen/catalog.yaml", "w") as f:
    f.write("version: 1\ncampaigns:\n  - {id: c1, name: Campaign 1, status: active}\n  - {id: c2, name: Campaign 2, status: active}\n")
start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
with open("gen/events.jsonl", "w") as f:
    for i in range(400000):
        t = (start + datetime.timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        f.write('{"time":"%s","user":"u%d","type":"received","campaign":"c%d","channel":"email"}\n'
                % (t, random.randrange(50000), 1 + i % 2))
PY
lines=$(wc -l <gen/events.jsonl)
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

"$bin/retarget" --data-dir whole catalog apply gen/catalog.yaml >/dev/null 2>&1
"$bin/retarget" --data-dir whole ingest gen/events.jsonl --format json >whole.json 2>/dev/null
whole=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accepted"])' whole.json)

for sig in INT TERM; do
  d=parted-$sig
  "$bin/retarget" --data-dir "$d" catalog apply gen/catalog.yaml >/dev/null 2>&1
  # Small batches: the first acknowledgement comes early, long before the end.
  "$bin/retarget" --data-dir "$d" ingest gen/events.jsonl --batch 500 --ack --format json >"$sig.json" 2>"$sig.err" &
  pid=$!
  for _ in $(seq 1 600); do grep -q '^durable ' "$sig.err" 2>/dev/null && break; sleep 0.05; done
  kill -"$sig" $pid
  code=0
  wait $pid || code=$?
  if [[ $code != 1 ]]; then fail "$sig: exit $code, wanted 1"; cat "$sig.err"; continue; fi
  line=$(sed -n 's/.*every event up to line \([0-9]*\) of .*/\1/p' "$sig.err")
  if [[ -z $line ]] || ((line >= lines)); then fail "$sig: no durable line below $lines in: $(tail -n 2 "$sig.err")"; continue; fi
  grep -q "tail -n +$((line + 1)) gen/events.jsonl | retarget ingest -" "$sig.err" || fail "$sig: no resume command"
  first=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["interrupted"]; print(j["accepted"])' "$sig.json")
  # The rest, from the next line: everything new, nothing twice.
  tail -n +$((line + 1)) gen/events.jsonl | "$bin/retarget" --data-dir "$d" ingest - --format json >"$sig.rest.json" 2>/dev/null
  read -r rest dups < <(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["accepted"], j["duplicates"])' "$sig.rest.json")
  if ((first + rest != whole)); then fail "$sig: $first + $rest accepted, wanted $whole"; fi
  if ((dups != 0)); then fail "$sig: $dups duplicates on resuming: the durable line is not exact"; fi
  # And the same data as one uninterrupted ingest.
  "$bin/retarget" --data-dir whole lifecycle status --format json 2>/dev/null | grep -v '"as_of"' >whole.status
  "$bin/retarget" --data-dir "$d" lifecycle status --format json 2>/dev/null | grep -v '"as_of"' >"$sig.status"
  cmp -s whole.status "$sig.status" || fail "$sig: the records per source differ from one ingest"
  echo "ok   SIG$sig: stopped at line $line of $lines ($first accepted), the rest from line $((line + 1)): $rest accepted, 0 duplicates"
done
((failures == 0))
