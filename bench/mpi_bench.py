#!/usr/bin/env python3
"""The scale-out benchmark (docs/scale-out.md): retarget-mpi with 1, 2 and 4
ranks on one data set (default M). For each rank count, into a fresh
partitioned directory: the catalog, the whole events file (the ingest rate,
whole process), the suite; then each suite segment evaluated alone, counting
(the evaluation time of the slowest rank, the command's wall time, and the
bytes each rank sent), and every member set listed once (the bytes the
gather moves). Every rank's peak resident memory is printed after the
ingest and after the evaluations (RETARGET_MPI_STATS). The bytes a count
evaluation sends are the command's minus those of a command that evaluates
nothing (`rules list`: the shared last sends and the exit codes). Each
rank's share of the work is shown by rank 0's directory evaluated alone by
`retarget` (its plan time, no other process running). The member sets must
equal those of 1 rank (the run fails otherwise).

  bench/mpi_bench.py [--size M] [--ranks 1,2,4] [--bin build/release/bin]

Figures land in build/bench-out/mpi-<size>.json and on standard output.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATS = re.compile(r"rank (\d+): peak resident (\d+) MiB, sent (\d+) bytes")


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode not in (0, 3):
        sys.exit(f"mpi_bench: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    return p


def stats_of(stderr):
    return {int(m[1]): {"peak_mib": int(m[2]), "sent_bytes": int(m[3])} for m in STATS.finditer(stderr)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="M")
    ap.add_argument("--ranks", default="1,2,4")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/release/bin"))
    a = ap.parse_args()
    data = os.path.join(ROOT, "build/bench-data", a.size)
    if not os.path.exists(os.path.join(data, "events.jsonl")):
        run([os.path.join(a.bin, "retarget_bench_gen"), "--size", a.size, "--out", data])
    now = json.load(open(os.path.join(data, "manifest.json")))["now"]
    suite = os.path.join(ROOT, "bench/suite.yaml")
    segments = [m[1] for m in re.finditer(r"^  - id: (\S+)", open(suite).read(), re.M)]
    work = os.path.join(ROOT, "build/bench-mpi")
    env = dict(os.environ, RETARGET_MPI_STATS="1", RETARGET_MPI_TIMEOUT="3600")
    results, reference = {}, None
    for p in [int(x) for x in a.ranks.split(",")]:
        d = os.path.join(work, f"{a.size}-{p}")
        shutil.rmtree(d, ignore_errors=True)
        mpi = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", str(p),
               os.path.join(a.bin, "retarget-mpi"), "--data-dir", d]
        run(mpi + ["catalog", "apply", os.path.join(data, "catalog.yaml")], env=env)
        t = time.monotonic()
        ing = run(mpi + ["ingest", os.path.join(data, "events.jsonl"), "--format", "json"], env=env)
        ingest_s = time.monotonic() - t
        events = json.loads(ing.stdout)["accepted"]
        ingest_stats = stats_of(ing.stderr)
        run(mpi + ["rules", "apply", suite], env=env)
        baseline = stats_of(run(mpi + ["rules", "list"], env=env).stderr)
        solo_dir = os.path.join(d, f"rank-0-of-{p}")
        per_segment = {}
        for s in segments:
            t = time.monotonic()
            r = run(mpi + ["--now", now, "evaluate", "--segment", s, "--format", "json", "--limit", "1"], env=env)
            wall = (time.monotonic() - t) * 1000
            j = json.loads(r.stdout)[0]
            st = stats_of(r.stderr)
            c = run(mpi + ["--now", now, "evaluate", "--segment", s, "--format", "count"], env=env)
            cst = stats_of(c.stderr)
            solo = run([os.path.join(a.bin, "retarget"), "--data-dir", solo_dir, "--now", now, "evaluate", "--segment", s,
                        "--format", "json", "--limit", "1"])
            per_segment[s] = {"count": j["count"], "evaluate_ms": j["timing"]["evaluate_ms"], "command_ms": wall,
                              "rank0_alone_ms": json.loads(solo.stdout)[0]["timing"]["evaluate_ms"],
                              "count_sent_bytes_per_rank": [cst[k]["sent_bytes"] - baseline[k]["sent_bytes"]
                                                            for k in sorted(cst)]}
        t = time.monotonic()
        members = run(mpi + ["--now", now, "evaluate", "--format", "ids"], env=env)
        members_s = time.monotonic() - t
        eval_stats = stats_of(members.stderr)
        if reference is None:
            reference = members.stdout
        elif members.stdout != reference:
            sys.exit(f"mpi_bench: the member sets with {p} ranks differ from those with the first rank count")
        results[p] = {
            "events": events, "ingest_s": ingest_s, "ingest_events_per_s": events / ingest_s,
            "peak_mib_per_rank_after_ingest": [ingest_stats[k]["peak_mib"] for k in sorted(ingest_stats)],
            "peak_mib_per_rank_evaluating": [eval_stats[k]["peak_mib"] for k in sorted(eval_stats)],
            "members_listing_s": members_s,
            "members_sent_bytes_per_rank": [eval_stats[k]["sent_bytes"] for k in sorted(eval_stats)],
            "segments": per_segment,
        }
        r = results[p]
        print(f"== {p} rank(s): ingest {events:,} events in {ingest_s:.1f} s = {r['ingest_events_per_s']:,.0f} events/s; "
              f"peak resident per rank {r['peak_mib_per_rank_after_ingest']} MiB (ingest), "
              f"{r['peak_mib_per_rank_evaluating']} MiB (evaluating); every member set listed in {members_s:.1f} s, "
              f"ranks sent {r['members_sent_bytes_per_rank']} bytes", flush=True)
    ps = sorted(results)
    print("\nper segment, for each rank count: the slowest rank's evaluation (ms), rank 0's partition evaluated alone (ms),"
          " the command's wall time (ms), and the most bytes one rank sent for the count")
    print(f"{'segment':<29}" + "".join(f"| {str(p) + ' rank(s)':<31}" for p in ps))
    for s in segments:
        row = f"{s:<29}"
        for p in ps:
            x = results[p]["segments"][s]
            row += (f"| {x['evaluate_ms']:6.2f} {x['rank0_alone_ms']:6.2f} {x['command_ms']:6.0f} "
                    f"{max(x['count_sent_bytes_per_rank']):>6} B ")
        print(row)
    out = os.path.join(ROOT, "build/bench-out")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"mpi-{a.size}.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
