// The timing harness shared by the SQL peers (duckdb*, clickhouse*).
//
// For every segment of the suite, in order: one warm-up run of the count
// query, one run that fetches the members (written to OUTDIR/<peer>/<id>.ids,
// external ids in byte order), then `reps` timed runs of the count query; the
// median is reported. The count query is what is timed, as for the engine
// (whose figure is the evaluation itself, not the listing of the members).

import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { median, writeIds, writeJson } from './semantics.mjs';

/** Parses --reps (a positive integer). */
export function parseReps(text) {
  const reps = Number(text);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a positive integer (got ${text})`);
  return reps;
}

/**
 * Runs every segment. `peer` = {name, count(query) -> Promise<number>,
 * members(query) -> Promise<string[]>}; `queries` = [[id, query]] where query
 * is whatever the peer's functions take; `show(query)` gives the text recorded
 * in the results (the SQL).
 */
export async function runSegments(peer, queries, reps, outDir, show = (q) => q) {
  const segments = {};
  for (const [id, query] of queries) {
    await peer.count(query); // warm-up
    const ids = await peer.members(query);
    writeIds(path.join(outDir, peer.name, `${id}.ids`), ids);
    const runs = [];
    let n = -1;
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      n = await peer.count(query);
      runs.push(performance.now() - t0);
    }
    if (n !== ids.length) throw new Error(`segment ${id}: count ${n} but ${ids.length} members fetched`);
    segments[id] = { count: n, median_ms: median(runs), runs_ms: runs, sql: show(query) };
    console.log(`${peer.name} ${id.padEnd(30)} ${String(n).padStart(9)} members  median ${segments[id].median_ms.toFixed(2)} ms`);
  }
  return segments;
}

/** Times an async step; returns [result, ms]. */
export async function timed(fn) {
  const t0 = performance.now();
  const result = await fn();
  return [result, performance.now() - t0];
}

/** Writes OUTDIR/<name>.json. `info` holds load_ms, build_ms, settings, ... */
export function writeResult(outDir, name, info, segments) {
  writeJson(path.join(outDir, `${name}.json`), { peer: name, ...info, segments });
}
