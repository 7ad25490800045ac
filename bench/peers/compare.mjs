#!/usr/bin/env node
// Compares the engine's benchmark results with the peers'.
//
//   node compare.mjs --out OUTDIR
//
// Reads OUTDIR/ours.json + OUTDIR/ours/<id>.ids (the engine's bench) and every
// peer result found there (OUTDIR/<peer>.json + OUTDIR/<peer>/<id>.ids; the
// peers are listed in PEERS). Prints one row per segment: members, our median
// time, each peer's median time and its ratio peer/ours (json-rules-engine:
// time per user evaluated, against ours per user), and whether every peer's
// member set equals ours; then per peer the geometric mean, median and lowest
// ratio, and the load/build times of every side. Writes OUTDIR/comparison.json.
// Exits 1 when a member set differs or a segment is missing from a peer that
// ran, 0 otherwise.

import fs from 'node:fs';
import path from 'node:path';
import { median, parseCli, readIds, writeJson } from './semantics.mjs';

const USAGE = 'node compare.mjs --out OUTDIR';

/**
 * The peers compare.mjs knows, in the order of the table. `per_user`: the
 * peer's figure is the time per user evaluated (a per-user rules engine).
 */
const PEERS = [
  { name: 'duckdb', label: 'DuckDB' },
  { name: 'duckdb_tuned', label: 'DuckDB tuned' },
  { name: 'clickhouse', label: 'ClickHouse' },
  { name: 'clickhouse_tuned', label: 'ClickHouse tuned' },
  { name: 'jre', label: 'json-rules-engine', per_user: true },
];

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));

/** Members of a segment from an ids directory, or null when the file is missing. */
function members(outDir, dir, id) {
  const file = path.join(outDir, dir, `${id}.ids`);
  return fs.existsSync(file) ? readIds(file) : null;
}

/** The set difference both ways, at most `limit` ids each (in file order). */
function diff(ours, theirs, limit = 5) {
  const a = new Set(ours);
  const b = new Set(theirs);
  const onlyOurs = ours.filter((x) => !b.has(x));
  const onlyPeer = theirs.filter((x) => !a.has(x));
  return {
    equal: onlyOurs.length === 0 && onlyPeer.length === 0 && a.size === ours.length && b.size === theirs.length,
    only_ours: onlyOurs.slice(0, limit), only_ours_count: onlyOurs.length,
    only_peer: onlyPeer.slice(0, limit), only_peer_count: onlyPeer.length,
  };
}

/** x / y, or null when either is missing or y is not positive. */
const ratio = (x, y) => (Number.isFinite(x) && Number.isFinite(y) && y > 0 ? x / y : null);

/** Geometric mean of the positive finite values, or null. */
function geomean(values) {
  const v = values.filter((x) => Number.isFinite(x) && x > 0);
  return v.length ? Math.exp(v.reduce((s, x) => s + Math.log(x), 0) / v.length) : null;
}

function summary(values) {
  const v = values.filter((x) => x !== null && Number.isFinite(x));
  return {
    geomean: geomean(v),
    median: v.length ? median(v) : null,
    lowest: v.length ? Math.min(...v) : null,
    highest: v.length ? Math.max(...v) : null,
    segments: v.length,
  };
}

/** Checks one peer's members of one segment against ours: {equal, problem?, diff?}. */
function checkPeer(outDir, peer, result, id, ours) {
  const seg = result.segments?.[id];
  if (!seg) return { equal: false, problem: `segment missing from ${peer.name}.json` };
  const ids = members(outDir, peer.name, id);
  if (ids === null) return { equal: false, problem: `missing ${peer.name}/${id}.ids` };
  if (ids.length !== seg.count) return { equal: false, problem: `${peer.name}/${id}.ids has ${ids.length} ids, ${peer.name}.json says ${seg.count}` };
  const d = diff(ours, ids);
  return { equal: d.equal, diff: d };
}

/** One row of the comparison. */
function compareSegment(outDir, ours, peers, id) {
  const o = ours.segments[id];
  const oursIds = members(outDir, 'ours', id);
  const row = { segment: id, members: o.count, ours_median_ms: o.median_ms, ours_per_user_us: ratio(o.median_ms * 1000, ours.users), problems: [], equal: true, peers: {} };
  if (oursIds === null) {
    row.problems.push(`missing ours/${id}.ids`);
    row.equal = false;
  } else if (oursIds.length !== o.count) {
    row.problems.push(`ours/${id}.ids has ${oursIds.length} ids, ours.json says ${o.count}`);
    row.equal = false;
  }
  for (const { peer, result } of peers) {
    const seg = result.segments?.[id];
    const p = {};
    if (peer.per_user) {
      p.per_user_us = seg?.per_user_us ?? null;
      p.ratio = ratio(p.per_user_us, row.ours_per_user_us);
    } else {
      p.median_ms = seg?.median_ms ?? null;
      p.ratio = ratio(p.median_ms, o.median_ms);
    }
    if (oursIds !== null) {
      const check = checkPeer(outDir, peer, result, id, oursIds);
      p.equal = check.equal;
      if (check.diff && !check.diff.equal) p.diff = check.diff;
      if (check.problem) row.problems.push(`${peer.name}: ${check.problem}`);
      if (!check.equal) row.equal = false;
    }
    row.peers[peer.name] = p;
  }
  return row;
}

// ---------------------------------------------------------------------------
// Printing

const fmt = (x, digits = 2) => (x === null || x === undefined ? 'n/a' : x.toFixed(digits));
const fmtRatio = (x) => (x === null || x === undefined ? 'n/a' : x >= 100 ? `${x.toFixed(0)}x` : `${x.toFixed(1)}x`);
const fmtS = (ms) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : 'n/a');

/** The "sets equal" cell: yes, or NO with the first differing ids each way. */
function equalCell(row) {
  if (row.equal) return 'yes';
  const parts = [...row.problems];
  for (const [name, p] of Object.entries(row.peers)) {
    const d = p.diff;
    if (d) parts.push(`${name}: only ours ${d.only_ours_count} [${d.only_ours.join(' ')}], only ${name} ${d.only_peer_count} [${d.only_peer.join(' ')}]`);
  }
  return `NO ${parts.join('; ')}`;
}

function printTable(header, lines) {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (i < l.length - 1 ? l[i].length : 0))));
  const render = (cells) => cells.map((c, i) => (i === cells.length - 1 ? c : i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ');
  console.log(render(header));
  console.log(widths.map((w, i) => '-'.repeat(i === widths.length - 1 ? header[i].length : w)).join('-|-'));
  for (const l of lines) console.log(render(l));
}

function printSegments(rows, peers) {
  const header = ['segment', 'members', 'ours ms'];
  const hasPerUser = peers.some((p) => p.peer.per_user);
  if (hasPerUser) header.push('ours us/user');
  for (const { peer } of peers) header.push(peer.per_user ? `${peer.label} us/user` : `${peer.label} ms`, 'ratio');
  header.push('sets equal');
  const lines = rows.map((r) => {
    const cells = [r.segment, String(r.members), fmt(r.ours_median_ms, 3)];
    if (hasPerUser) cells.push(fmt(r.ours_per_user_us, 4));
    for (const { peer } of peers) {
      const p = r.peers[peer.name];
      cells.push(peer.per_user ? fmt(p.per_user_us) : fmt(p.median_ms), fmtRatio(p.ratio));
    }
    cells.push(equalCell(r));
    return cells;
  });
  printTable(header, lines);
}

function printSummary(summaries, peers) {
  console.log('');
  const header = ['ratio peer/ours', 'geometric mean', 'median', 'lowest', 'highest', 'segments'];
  const lines = peers.map(({ peer }) => {
    const s = summaries[peer.name];
    return [`${peer.label}${peer.per_user ? ' (per user)' : ''}`, fmtRatio(s.geomean), fmtRatio(s.median), fmtRatio(s.lowest), fmtRatio(s.highest), String(s.segments)];
  });
  printTable(header, lines);
}

function printBuild(build) {
  console.log('');
  const lines = build.map((b) => [b.side, fmtS(b.load_ms), fmtS(b.build_ms), `${b.engine ?? ''}: ${b.note ?? ''}`]);
  printTable(['load / build (not in query times)', 'load', 'build', 'what'], lines);
}

// ---------------------------------------------------------------------------

/** Load and build times of every side: ours (durable ingest, open) and each peer. */
function buildTimes(ours, peers) {
  const out = [{
    side: 'ours', engine: 'Retarget',
    load_ms: Number.isFinite(ours.ingest?.seconds) ? ours.ingest.seconds * 1000 : null,
    build_ms: Number.isFinite(ours.open_first_query_s) ? ours.open_first_query_s * 1000 : null,
    note: 'load = durable ingest of events.jsonl; build = open the store (index build) and answer the first query',
  }];
  for (const { peer, result } of peers) {
    out.push({
      side: peer.name, engine: result.engine ?? null, load_ms: result.load_ms ?? null, build_ms: result.build_ms ?? null,
      note: peer.per_user ? 'load = per-user facts built from events.csv'
        : result.form === 'tuned' ? 'load = events.csv into staging; build = facts, bitmaps, profiles'
          : 'load = events.csv into the raw events table',
    });
  }
  return out;
}

function main() {
  const args = parseCli(USAGE, { out: { required: true } });
  const outDir = args.out;
  const ours = readJson(path.join(outDir, 'ours.json'));
  if (!ours.segments || !Number.isFinite(ours.users)) throw new Error(`${path.join(outDir, 'ours.json')}: needs "segments" and numeric "users"`);
  const peers = PEERS.filter((p) => fs.existsSync(path.join(outDir, `${p.name}.json`)))
    .map((peer) => ({ peer, result: readJson(path.join(outDir, `${peer.name}.json`)) }));
  if (peers.length === 0) console.log('(no peer results found: only ours)');

  // Rows in the suite's order (the peers write segments in that order), then any others of ours.
  const ids = [...new Set([...peers.flatMap((p) => Object.keys(p.result.segments ?? {})), ...Object.keys(ours.segments)])]
    .filter((id) => ours.segments[id]);
  const rows = ids.map((id) => compareSegment(outDir, ours, peers, id));
  const extra = [];
  for (const { peer, result } of peers) {
    for (const id of Object.keys(result.segments ?? {})) if (!ours.segments[id]) extra.push(`${peer.name}: ${id}`);
  }

  const summaries = Object.fromEntries(peers.map(({ peer }) => [peer.name, summary(rows.map((r) => r.peers[peer.name].ratio))]));
  const build = buildTimes(ours, peers);
  console.log(`${ours.manifest?.size ?? '?'}: ${ours.users} users, ${ours.manifest?.events ?? '?'} events; times are medians of warm runs, ratio = peer / ours`);
  printSegments(rows, peers);
  printSummary(summaries, peers);
  printBuild(build);
  if (extra.length) console.log(`note: segments the engine did not run: ${extra.join(', ')}`);

  const ok = rows.every((r) => r.equal);
  writeJson(path.join(outDir, 'comparison.json'), {
    size: ours.manifest?.size ?? null,
    users: ours.users,
    peers: peers.map(({ peer, result }) => ({ name: peer.name, label: peer.label, engine: result.engine ?? null, form: result.form ?? null, per_user: !!peer.per_user, settings: result.settings ?? null })),
    segments: rows,
    summary: summaries,
    build,
    extra_peer_segments: extra,
    ok,
  });
  console.log(ok ? 'all member sets equal' : 'MEMBER SETS DIFFER');
  process.exitCode = ok ? 0 : 1;
}

try {
  main();
} catch (e) {
  process.stderr.write(`compare: ${e.message}\n`);
  process.exit(2);
}
