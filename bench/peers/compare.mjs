#!/usr/bin/env node
// Compares the engine's benchmark results with the peers'.
//
//   node compare.mjs --out OUTDIR
//
// Reads OUTDIR/ours.json + OUTDIR/ours/<id>.ids (the engine's bench), and
// whichever of OUTDIR/duckdb.json + duckdb/ and OUTDIR/jre.json + jre/ exist.
// Prints one row per segment (members, timings, ratios, whether every peer's
// member set equals ours), the median and geometric mean of each ratio, and
// writes OUTDIR/comparison.json. Exits 1 when a member set differs or a
// segment is missing from a peer that ran, 0 otherwise.

import fs from 'node:fs';
import path from 'node:path';
import { median, parseCli, readIds, writeJson } from './semantics.mjs';

const USAGE = 'node compare.mjs --out OUTDIR';

/** The peers compare.mjs knows: results file and ids directory under OUTDIR. */
const PEERS = [
  { name: 'duckdb', file: 'duckdb.json', dir: 'duckdb' },
  { name: 'jre', file: 'jre.json', dir: 'jre' },
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
  return { median: v.length ? median(v) : null, geomean: geomean(v), segments: v.length };
}

/**
 * Checks one peer's result for one segment against ours. Returns
 * {equal, problem?, diff?} where problem says what is missing or inconsistent.
 */
function checkPeer(outDir, peer, result, id, ours) {
  const seg = result.segments?.[id];
  if (!seg) return { equal: false, problem: `segment missing from ${peer.file}` };
  const ids = members(outDir, peer.dir, id);
  if (ids === null) return { equal: false, problem: `missing ${peer.dir}/${id}.ids` };
  if (ids.length !== seg.count) return { equal: false, problem: `${peer.dir}/${id}.ids has ${ids.length} ids, ${peer.file} says ${seg.count}` };
  const d = diff(ours, ids);
  return { equal: d.equal, diff: d };
}

/** One row of the comparison. */
function compareSegment(outDir, ours, peers, id) {
  const o = ours.segments[id];
  const oursIds = members(outDir, 'ours', id);
  const row = { segment: id, members: o.count, ours_median_ms: o.median_ms, problems: [], equal: true };
  if (oursIds === null) {
    row.problems.push('missing ours/' + id + '.ids');
    row.equal = false;
  } else if (oursIds.length !== o.count) {
    row.problems.push(`ours/${id}.ids has ${oursIds.length} ids, ours.json says ${o.count}`);
    row.equal = false;
  }
  const oursPerUser = ratio(o.median_ms * 1000, ours.users);
  for (const { peer, result } of peers) {
    const seg = result.segments?.[id];
    if (peer.name === 'duckdb') {
      row.duckdb_median_ms = seg?.median_ms ?? null;
      row.duckdb_ratio = ratio(seg?.median_ms, o.median_ms);
    } else {
      row.jre_per_user_us = seg?.per_user_us ?? null;
      row.ours_per_user_us = oursPerUser;
      row.jre_ratio = ratio(seg?.per_user_us, oursPerUser);
    }
    if (oursIds === null) continue;
    const check = checkPeer(outDir, peer, result, id, oursIds);
    row[`${peer.name}_equal`] = check.equal;
    if (check.diff) row[`${peer.name}_diff`] = check.diff;
    if (check.problem) row.problems.push(`${peer.name}: ${check.problem}`);
    if (!check.equal) row.equal = false;
  }
  return row;
}

// ---------------------------------------------------------------------------
// Printing

const fmt = (x, digits = 2) => (x === null || x === undefined ? 'n/a' : x.toFixed(digits));
const fmtRatio = (x) => (x === null || x === undefined ? 'n/a' : `${x.toFixed(1)}x`);

/** The "sets equal" cell: yes, or NO with the first differing ids each way. */
function equalCell(row, peers) {
  if (row.equal) return 'yes';
  const parts = [...row.problems];
  for (const { peer } of peers) {
    const d = row[`${peer.name}_diff`];
    if (d && !d.equal) {
      parts.push(`${peer.name}: only ours ${d.only_ours_count} [${d.only_ours.join(' ')}], only ${peer.name} ${d.only_peer_count} [${d.only_peer.join(' ')}]`);
    }
  }
  return `NO ${parts.join('; ')}`;
}

function printTable(rows, peers, summaries) {
  const hasDuck = peers.some((p) => p.peer.name === 'duckdb');
  const hasJre = peers.some((p) => p.peer.name === 'jre');
  const header = ['segment', 'members', 'ours median ms'];
  if (hasDuck) header.push('DuckDB median ms', 'DuckDB/ours');
  if (hasJre) header.push('jre us/user', 'ours us/user', 'jre/ours');
  header.push('sets equal');
  const lines = rows.map((r) => {
    const cells = [r.segment, String(r.members), fmt(r.ours_median_ms, 3)];
    if (hasDuck) cells.push(fmt(r.duckdb_median_ms), fmtRatio(r.duckdb_ratio));
    if (hasJre) cells.push(fmt(r.jre_per_user_us), fmt(r.ours_per_user_us, 4), fmtRatio(r.jre_ratio));
    cells.push(equalCell(r, peers));
    return cells;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (i < l.length - 1 ? l[i].length : 0))));
  const render = (cells) => cells.map((c, i) => (i === cells.length - 1 ? c : i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ');
  console.log(render(header));
  console.log(widths.map((w, i) => '-'.repeat(i === widths.length - 1 ? header[i].length : w)).join('-|-'));
  for (const l of lines) console.log(render(l));
  console.log('');
  for (const [name, s] of Object.entries(summaries)) {
    console.log(`${name}: median ${fmtRatio(s.median)}, geometric mean ${fmtRatio(s.geomean)} over ${s.segments} segments`);
  }
}

// ---------------------------------------------------------------------------

function main() {
  const args = parseCli(USAGE, { out: { required: true } });
  const outDir = args.out;
  const ours = readJson(path.join(outDir, 'ours.json'));
  if (!ours.segments || !Number.isFinite(ours.users)) throw new Error(`${path.join(outDir, 'ours.json')}: needs "segments" and numeric "users"`);
  const peers = PEERS.filter((p) => fs.existsSync(path.join(outDir, p.file)))
    .map((peer) => ({ peer, result: readJson(path.join(outDir, peer.file)) }));
  if (peers.length === 0) console.log('(no peer results found: only ours)');

  // Rows in the suite's order (the peers write segments in that order), then any others of ours.
  const ids = [...new Set([...peers.flatMap((p) => Object.keys(p.result.segments ?? {})), ...Object.keys(ours.segments)])]
    .filter((id) => ours.segments[id]);
  const rows = ids.map((id) => compareSegment(outDir, ours, peers, id));
  const extra = [];
  for (const { peer, result } of peers) {
    for (const id of Object.keys(result.segments ?? {})) if (!ours.segments[id]) extra.push(`${peer.name}: ${id}`);
  }

  const summaries = {};
  if (peers.some((p) => p.peer.name === 'duckdb')) summaries['DuckDB/ours'] = summary(rows.map((r) => r.duckdb_ratio));
  if (peers.some((p) => p.peer.name === 'jre')) summaries['jre/ours (per user)'] = summary(rows.map((r) => r.jre_ratio));
  printTable(rows, peers, summaries);
  if (extra.length) console.log(`note: segments the engine did not run: ${extra.join(', ')}`);

  const ok = rows.every((r) => r.equal);
  writeJson(path.join(outDir, 'comparison.json'), {
    users: ours.users,
    peers: peers.map((p) => p.peer.name),
    segments: rows,
    summary: summaries,
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
