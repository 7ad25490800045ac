#!/usr/bin/env bash
# retarget-mpi with P ranks answers exactly what retarget answers on the same
# data (docs/scale-out.md): every command's standard output and exit code,
# over a generated data set and the whole standard segment suite, through
# ingest (with rejected lines), evaluation, explain, profile, exports,
# analytics, lifecycle status, a sweep that expires a campaign, and a restore.
#   tests/mpi/equivalence_test.sh BIN_DIR RANKS WORK_DIR REPO_DIR
set -euo pipefail
bin=$1 ranks=$2 work=$3 repo=$4
rm -rf "$work" && mkdir -p "$work" && cd "$work"
export RETARGET_MPI_TIMEOUT=120
"$bin/retarget_bench_gen" --size S --out gen --events 40000 --seed 7 >/dev/null

mpi() { timeout 300 mpirun --allow-run-as-root --oversubscribe -np "$ranks" "$bin/retarget-mpi" "$@"; }
single() { "$bin/retarget" --data-dir single "$@"; }
multi() { mpi --data-dir multi "$@"; }

failures=0 checks=0
# same NAME [--filter SED] [--stderr] -- ARGS...: both forms, the same exit code and output.
same() {
  local name=$1 filter='' with_stderr=0
  shift
  while [[ $1 != -- ]]; do
    case $1 in
      --filter) filter=$2; shift 2 ;;
      --stderr) with_stderr=1; shift ;;
    esac
  done
  shift
  local cs=0 cm=0
  single "$@" >"s.$name.out" 2>"s.$name.err" </dev/null || cs=$?
  multi "$@" >"m.$name.out" 2>"m.$name.err" </dev/null || cm=$?
  if [[ -n $filter ]]; then sed -i -E "$filter" "s.$name.out" "m.$name.out"; fi
  # When each directory's state was written (a read-only open says) differs by nature.
  sed -i -E '/"as_of": /d' "s.$name.out" "m.$name.out"
  checks=$((checks + 1))
  if [[ $cs != "$cm" ]]; then
    echo "FAIL $name: exit $cs (retarget) vs $cm (retarget-mpi -np $ranks)"; cat "m.$name.err"; failures=$((failures + 1)); return
  fi
  if ! cmp -s "s.$name.out" "m.$name.out"; then
    echo "FAIL $name: output differs"; diff "s.$name.out" "m.$name.out" | head -20 || true; failures=$((failures + 1)); return
  fi
  # Messages: the same but for the directory each reads (a read-only open names it).
  if ((with_stderr)) && ! diff <(grep -v '^as of: ' "s.$name.err") <(grep -v '^as of: ' "m.$name.err") >"$name.err.diff"; then
    echo "FAIL $name: messages differ"; head -20 "$name.err.diff"; failures=$((failures + 1)); return
  fi
  echo "ok   $name (exit $cs, $(wc -c <"s.$name.out") bytes)"
}

# Input with bad lines among good ones: rejections keep the input's line numbers.
{
  head -n 3000 gen/events.jsonl
  echo 'not json'
  echo '{"time":"2026-05-01T00:00:00Z","type":"received","campaign":"c000","channel":"email"}'
  echo ''
  echo '{"time":"2026-05-01T00:00:00Z","user":"u1","type":"received","campaign":"no_such","channel":"email"}'
  tail -n +3001 gen/events.jsonl
} >events-with-bad-lines.jsonl

T0=2026-06-01T00:00:00Z
same catalog --stderr -- catalog apply gen/catalog.yaml
same ingest --filter 's/"seconds": [0-9.e+-]+/"seconds": 0/' -- ingest events-with-bad-lines.jsonl --format json
same ingest-again --filter 's/in [0-9.]+ s \([0-9,]+ lines\/s\)//' -- ingest gen/events.jsonl
same rules -- rules apply "$repo/bench/suite.yaml"
same missing-input -- ingest no-such-file.jsonl
same count -- --now $T0 evaluate --format count
same members -- --now $T0 evaluate --format ids
same members-csv -- --now $T0 evaluate --segment win_back --format csv
same page-1 --stderr -- --now $T0 evaluate --segment canvas_journey --format ids --limit 50
after=$(tail -n 1 s.page-1.out)
same page-2 --stderr -- --now $T0 evaluate --segment canvas_journey --format ids --limit 50 --after "$after"
same unknown-segment -- --now $T0 evaluate --segment no_such_segment --format count
for u in u00000001 u00000042 u00000777 u00012345 nobody; do
  same "explain-$u" -- --now $T0 explain --segment win_back --user "$u" --format json
  same "profile-$u" -- profile "$u"
done
same export-users -- export users --ids u00000003,nobody,u00000010,u00000003,u00019999
same recipients-campaign -- export recipients --campaign c000
same recipients-canvas -- export recipients --canvas k00
same recipients-step -- export recipients --canvas k01 --step s2
# A Canvas whose steps live on different ranks (step s2's only recipient on
# one rank, s1's on another): the rows still come by step in catalog order.
read -r user_a user_b < <(python3 -c '
import sys
def owner(s, p):
    h = 14695981039346656037
    for c in s.encode():
        h = ((h ^ c) * 1099511628211) % (1 << 64)
    return h % p
p = int(sys.argv[1])
ids = ["step-user-%d" % i for i in range(100)]
a = ids[0]
b = next((i for i in ids[1:] if owner(i, p) != owner(a, p)), ids[1])
print(a, b)' "$ranks")
printf 'version: 1\ncanvases:\n  - {id: kx, name: Canvas kx, status: active, variations: [{id: v1, name: Variant 1}], steps: [{id: s1, name: Step 1}, {id: s2, name: Step 2}]}\n' >canvas-kx.yaml
printf '{"time":"2026-05-01T00:00:00Z","user":"%s","type":"received","canvas":"kx","step":"s2","channel":"email"}\n{"time":"2026-05-01T00:00:00Z","user":"%s","type":"received","canvas":"kx","step":"s1","channel":"email"}\n' "$user_a" "$user_b" >canvas-kx.jsonl
same canvas-kx -- catalog apply canvas-kx.yaml
same canvas-kx-events --filter 's/in [0-9.]+ s \([0-9,]+ lines\/s\)//' -- ingest canvas-kx.jsonl
same recipients-steps-apart -- export recipients --canvas kx
same analytics-campaign -- analytics --campaign c000 --format json
same analytics-canvas -- analytics --canvas k01 --format json
same status -- --now $T0 lifecycle status --format json
same deps -- deps --format json

# A campaign no segment pins: stopped, expired by a sweep 100 days later, restored.
# A second one, stopped too, sent once more to one user recently: only the
# rank owning that user saw the send, and no rank may expire it (the ranks
# share each source's last send before deciding).
read -r victim kept < <(python3 -c '
import json, sys
free = [s["source"].split(":", 1)[1] for s in json.load(open(sys.argv[1]))
        if s["source"].startswith("campaign:") and not s["pinned"] and s["records"] > 0]
print(free[0], free[1])' s.status.out)
echo "stopped and expired: $victim; stopped, sent again, kept: $kept"
T1=2026-09-15T00:00:00Z
echo "{\"time\":\"2026-09-01T00:00:00Z\",\"user\":\"u00000005\",\"type\":\"received\",\"campaign\":\"$kept\",\"channel\":\"email\"}" >late-send.jsonl
same stop -- --now $T0 campaign stop "$victim" "$kept"
same late-send --filter 's/in [0-9.]+ s \([0-9,]+ lines\/s\)//' -- ingest late-send.jsonl
same plan -- --now $T1 lifecycle plan --until $T1 --format json
same sweep -- --now $T1 lifecycle sweep --format json
same status-expired -- --now $T1 lifecycle status --format json
same count-expired -- --now $T1 evaluate --format count
same export-users-expired -- export users --ids u00000003,u00000010,u00000011,u00000012
same recipients-expired --stderr -- export recipients --campaign "$victim"
same analytics-expired -- analytics --campaign "$victim" --format json
same restore -- --now $T1 restore --campaign "$victim" --wait --format json
same restore-status -- restore status --format json
same status-restored -- --now $T1 lifecycle status --format json
same members-restored -- --now $T1 evaluate --format ids

# expect NAME CODE PATTERN -- ARGS...: retarget-mpi exits CODE, saying PATTERN on stderr.
expect() {
  local name=$1 want=$2 pattern=$3 code=0
  shift 4
  checks=$((checks + 1))
  mpi "$@" >"$name.out" 2>"$name.err" || code=$?
  if [[ $code == "$want" ]] && grep -q -- "$pattern" "$name.err"; then
    echo "ok   $name (exit $code: $(grep -m1 -- "$pattern" "$name.err"))"
  else
    echo "FAIL $name: exit $code, wanted $want and '$pattern'"; cat "$name.err"; failures=$((failures + 1))
  fi
}
# equal NAME FILE FILE
equal() {
  checks=$((checks + 1))
  if cmp -s "$2" "$3"; then echo "ok   $1"; else echo "FAIL $1"; diff "$2" "$3" | head -20 || true; failures=$((failures + 1)); fi
}

# Standard input: rank 0 reads it and sends each line to its user's rank;
# the dead-letter file names every rejected line by its line in the input.
for form in single multi; do
  printf 'version: 1\ndead_letter: dead-letter-%s.jsonl\n' $form >config-$form.yaml
  if [[ $form == single ]]; then run=("$bin/retarget" --config config-$form.yaml --data-dir stdin-single)
  else run=(mpi --config config-$form.yaml --data-dir stdin-multi); fi
  "${run[@]}" catalog apply gen/catalog.yaml >/dev/null 2>&1
  "${run[@]}" ingest - --format json <events-with-bad-lines.jsonl 2>/dev/null | grep -v '"seconds"' >"stdin.$form.ingest" || true
  "${run[@]}" rules apply "$repo/bench/suite.yaml" >/dev/null 2>&1
  "${run[@]}" --now $T0 evaluate --format ids >"stdin.$form.members" 2>/dev/null
done
equal stdin-ingest stdin.single.ingest stdin.multi.ingest
equal dead-letter <(sort dead-letter-single.jsonl) <(sort dead-letter-multi.jsonl)
if [[ $(wc -l <dead-letter-single.jsonl) != 3 ]]; then echo "FAIL dead-letter: not 3 lines"; failures=$((failures + 1)); fi
equal stdin-members stdin.single.members stdin.multi.members

# The one-process form over :memory: (each rank its own in-memory engine).
one_process=(--data-dir :memory: --catalog gen/catalog.yaml --events gen/events.jsonl --rules "$repo/bench/suite.yaml"
             --now $T0 evaluate --format count)
"$bin/retarget" "${one_process[@]}" >memory.single 2>/dev/null
mpi "${one_process[@]}" >memory.multi 2>/dev/null
equal memory-one-process memory.single memory.multi

# A line longer than rank 0's read block (16 MiB): rejected as over-long on its own line number,
# the lines around it kept (the byte count in the reason is of the part read).
{
  head -n 3 gen/events.jsonl
  printf '{"user":"%s"}\n' "$(head -c 17000000 /dev/zero | tr '\0' x)"
  sed -n 4,6p gen/events.jsonl
} >long-line.jsonl
for form in single multi; do
  if [[ $form == single ]]; then run=("$bin/retarget" --data-dir long-$form); else run=(mpi --data-dir long-$form); fi
  "${run[@]}" catalog apply gen/catalog.yaml >/dev/null 2>&1
  "${run[@]}" ingest long-line.jsonl --format json 2>/dev/null | grep -v '"seconds"' | sed -E 's/line is [0-9]+ bytes/line is N bytes/' >"long.$form" || true
done
equal long-line long.single long.multi

# --ack: rank 0 acknowledges the input's last line once every rank's share is durable.
mpi --data-dir ack catalog apply gen/catalog.yaml >/dev/null 2>&1
expect ack 3 "^durable 40004$" -- --data-dir ack ingest events-with-bad-lines.jsonl --ack

# A rank that fails fails the command, naming the rank and its error.
if ((ranks > 1)); then
  cp -r multi broken && rm -rf "broken/rank-1-of-$ranks"
  expect failed-rank 2 "rank 1: retarget: no data directory" -- --data-dir broken evaluate --format count
fi

# Ranks whose replicated state differs (a catalog applied to one rank's
# directory behind retarget-mpi's back): a sweep is refused before any tier
# changes, and a command that fails on one rank only ends (MPI_Abort) instead of hanging.
if ((ranks > 1)); then
  cp -r multi diverged
  printf 'version: 1\ncampaigns:\n  - {id: only_on_rank_0, name: Only on rank 0, status: stopped}\n' >one-rank-catalog.yaml
  "$bin/retarget" --data-dir "diverged/rank-0-of-$ranks" catalog apply one-rank-catalog.yaml >/dev/null 2>&1
  expect disagreement 1 "computed other pins or expiry decisions" -- --data-dir diverged --now $T1 lifecycle sweep
  expect diverged 1 "the processes diverged" -- --data-dir diverged analytics --campaign only_on_rank_0
fi

# A directory partitioned for P ranks is refused with another P.
if ((ranks > 1)); then
  checks=$((checks + 1))
  code=0
  timeout 120 mpirun --allow-run-as-root --oversubscribe -np $((ranks - 1)) "$bin/retarget-mpi" --data-dir multi \
    evaluate --format count >wrong-p.out 2>wrong-p.err || code=$?
  if [[ $code == 2 ]] && grep -q "is partitioned for $ranks processes" wrong-p.err; then
    echo "ok   another P is refused"
  else
    echo "FAIL another P: exit $code"; cat wrong-p.err; failures=$((failures + 1))
  fi
fi

echo "$checks checks with $ranks rank(s), $failures failed"
((failures == 0))
