#!/usr/bin/env node
// ClickHouse peer of the Retarget benchmark, tuned form (embedded ClickHouse
// through chdb). The schema and the query form are what a ClickHouse expert
// would build for "which users are in this segment" (README.md explains why):
//
//   node clickhouse_tuned_peer.mjs --data DIR --suite bench/suite.yaml --out OUTDIR [--reps 5] [--work DIR]
//
// Load (timed as load_ms): the distinct raw events into a staging MergeTree.
// Build (timed as build_ms; an expert's ETL, done once, never per segment):
//   facts        (fact LowCardinality, src LowCardinality, uid UInt32, t Int64, n UInt32)
//                ORDER BY (fact, src, uid): one row per (fact, source, user) with the
//                latest time and the event count (facts.mjs has the fact kinds; string
//                custom attributes are facts 'attr:<name>' at src = the value);
//   fact_bitmaps (fact, src, users AggregateFunction(groupBitmap, UInt32)) in a Memory
//                table: one roaring bitmap of the users of each (fact, src);
//   profiles     (uid, bucket, the custom attributes of the latest attributes row)
//                ORDER BY uid, one row per user of U;
//   users        (uid, user) to turn dense ids into external ids when listing members.
// Query: each segment is ONE query whose WITH clause makes at most three scans
// (fact_bitmaps, facts, profiles), each returning a tuple of bitmaps, one per
// leaf, and whose result is bitmapAnd / bitmapOr / bitmapAndnot algebra over
// them; the count is bitmapCardinality. `now` is a bound query parameter
// {now:Int64}.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EVENT_COLUMNS, USER_COLUMNS, checkHeader, loadBenchInputs, parseCli, readFirstLine } from './semantics.mjs';
import { DIALECTS, num } from './straight_sql.mjs';
import { parseReps, runSegments, timed, writeResult } from './harness.mjs';
import { ChSession, EVENT_SCHEMA, USER_SCHEMA, fileSource } from './clickhouse_common.mjs';
import { compileSegment, factDerivations, prune } from './facts.mjs';

const USAGE = 'node clickhouse_tuned_peer.mjs --data DIR --suite bench/suite.yaml --out OUTDIR [--reps 5] [--work DIR]';
const d = DIALECTS.clickhouse;
const lit = d.lit;

// ---------------------------------------------------------------------------
// Load and build

/** ClickHouse column type of a declared custom attribute. */
const attributeType = (type) => (type === 'number' ? 'Nullable(Float64)' : 'LowCardinality(Nullable(String))');

function load(ch, dataDir) {
  const eventsFile = path.resolve(dataDir, 'events.csv');
  const usersFile = path.resolve(dataDir, 'users.csv');
  checkHeader(eventsFile, readFirstLine(eventsFile), EVENT_COLUMNS);
  checkHeader(usersFile, readFirstLine(usersFile), USER_COLUMNS);
  ch.run(`CREATE TABLE ev (${EVENT_SCHEMA}) ENGINE = MergeTree ORDER BY (type, uid)`);
  ch.run(`INSERT INTO ev SELECT DISTINCT * FROM ${fileSource(eventsFile, EVENT_SCHEMA)}`); // identical rows = one event
  ch.run(`CREATE TABLE users_csv (${USER_SCHEMA}) ENGINE = MergeTree ORDER BY uid`);
  ch.run(`INSERT INTO users_csv SELECT * FROM ${fileSource(usersFile, USER_SCHEMA)}`);
}

function build(ch, catalog) {
  const derivations = factDerivations(catalog, { str: lit, sep: 'char(31)' });
  const rows = derivations.map(([f, s, where]) => `SELECT ${f} AS fact, ${s} AS src, uid, time_ms FROM ev WHERE ${where}`);
  ch.run(`CREATE TABLE facts (fact LowCardinality(String), src LowCardinality(String), uid UInt32, t Int64, n UInt32)
    ENGINE = MergeTree ORDER BY (fact, src, uid)`);
  ch.run(`INSERT INTO facts SELECT fact, src, uid, max(time_ms), count() FROM (\n${rows.join('\nUNION ALL\n')}\n)
    GROUP BY fact, src, uid`);
  // The latest state of each feature flag: one row per user whose flag is on.
  ch.run(`INSERT INTO facts SELECT 'flag_on:' || flag, '*', uid, max(time_ms), count() FROM ev
    WHERE type = 'feature_flag' AND flag IS NOT NULL GROUP BY flag, uid HAVING ${d.isTrue(d.latest('enabled'))}`);

  const attrs = Object.entries(catalog.attributes).filter(([name]) => EVENT_COLUMNS.includes(name));
  const cols = attrs.map(([name, type]) => `${d.ident(name)} ${attributeType(type)}`);
  ch.run(`CREATE TABLE profiles (uid UInt32, bucket UInt16${cols.map((c) => `, ${c}`).join('')})
    ENGINE = MergeTree ORDER BY uid`);
  // The custom attributes take the values of the user's latest attributes row
  // (argMax over a tuple keeps NULLs: an empty field there = absent).
  const latest = attrs.length ? `, argMax(tuple(${attrs.map(([n]) => d.ident(n)).join(', ')}), time_ms) AS latest` : '';
  const picks = attrs.map(([n], i) => `, tupleElement(latest, ${i + 1}) AS ${d.ident(`attr_${n}`)}`).join('');
  const missing = Number(ch.scalar('SELECT count() FROM (SELECT DISTINCT uid FROM ev) WHERE uid NOT IN (SELECT uid FROM users_csv)'));
  if (missing) throw new Error(`${missing} uids of events.csv are not in users.csv`);
  const latestRows = `(SELECT uid, max(time_ms) AS attr_t${latest}${picks} FROM ev WHERE type = 'attributes' GROUP BY uid)`;
  ch.run(`INSERT INTO profiles SELECT u.uid, us.bucket${attrs.map(([n]) => `, la.${d.ident(`attr_${n}`)}`).join('')}
    FROM (SELECT uid FROM facts WHERE fact = 'any_event' AND src = '*') AS u
    LEFT ANY JOIN users_csv AS us ON us.uid = u.uid
    LEFT ANY JOIN ${latestRows} AS la ON la.uid = u.uid`);
  ch.run('OPTIMIZE TABLE profiles FINAL');
  // String attributes are facts too: fact 'attr:<name>', src = the value.
  for (const [name, type] of attrs) {
    if (type === 'number') continue;
    const col = d.ident(`attr_${name}`);
    ch.run(`INSERT INTO facts SELECT ${lit(`attr:${name}`)}, ${col}, uid, attr_t, 1 FROM ${latestRows} WHERE ${col} IS NOT NULL`);
  }
  ch.run('OPTIMIZE TABLE facts FINAL');

  // One roaring bitmap per (fact, src), string attribute values included: the
  // bitmap index of user profiling.
  // A Memory table: a few thousand rows that every query reads from, kept as
  // they are in RAM (a MergeTree would decompress and deserialise its granules).
  ch.run(`CREATE TABLE fact_bitmaps (fact LowCardinality(String), src LowCardinality(String),
    users AggregateFunction(groupBitmap, UInt32), rows UInt64) ENGINE = Memory`);
  ch.run('INSERT INTO fact_bitmaps SELECT fact, src, groupBitmapState(uid), count() FROM facts GROUP BY fact, src');
  ch.run('CREATE TABLE users (uid UInt32, user String) ENGINE = MergeTree ORDER BY uid');
  ch.run('INSERT INTO users SELECT uid, user FROM users_csv');
  ch.run('OPTIMIZE TABLE users FINAL');
  ch.run('DROP TABLE ev');
  ch.run('DROP TABLE users_csv');
}

/** The facts and sources the facts table holds (queries name no other). */
function dictionary(ch) {
  return {
    facts: new Set(ch.rows('SELECT DISTINCT fact FROM fact_bitmaps').map(([f]) => f)),
    srcs: new Set(ch.rows('SELECT DISTINCT src FROM fact_bitmaps').map(([s]) => s)),
  };
}

// ---------------------------------------------------------------------------
// Rendering the set algebra as bitmap expressions

const inSet = (col, values) => (values.length === 1 ? `${col} = ${lit(values[0])}` : `${col} IN (${values.map(lit).join(', ')})`);
const factRange = (x) => `${inSet('fact', x.facts)} AND ${inSet('src', x.srcs)}`;

/** A time bound as SQL: relative to the {now:Int64} parameter, or absolute. */
function bound(b) {
  if (!b.rel) return num(b.value);
  if (b.offset === 0) return '{now:Int64}';
  return b.offset < 0 ? `({now:Int64} - ${num(-b.offset)})` : `({now:Int64} + ${num(b.offset)})`;
}

/**
 * One segment's query. Every bitmap a leaf needs comes from one of three
 * scans, each a single scalar subquery returning a tuple of bitmaps (a
 * subquery costs about a millisecond of fixed work in ClickHouse, so the
 * leaves share them):
 *   p: fact_bitmaps, groupBitmapOrStateIf(users, <fact, src>) per presence leaf
 *      (and per string attribute condition, over the attribute's value bitmaps);
 *   f: facts, groupBitmapStateIf(uid, <fact, src, t or n condition>) per time
 *      or count leaf: the union of the leaves' key ranges, read once;
 *   a: profiles, groupBitmapStateIf(uid, <condition>) per numeric attribute
 *      or bucket condition.
 * A recurring campaign's conversions (a join of two ranges) is its own subquery.
 */
class BitmapQuery {
  constructor() {
    this.scans = { p: [], f: [], a: [] }; // condition lists
    this.extra = []; // [alias, sql] of other scalar subqueries
  }

  /** A bitmap of scan `s` for condition `cond` (the same condition once). */
  from(s, cond) {
    const list = this.scans[s];
    let i = list.indexOf(cond);
    if (i < 0) i = list.push(cond) - 1;
    return `tupleElement(${s}, ${i + 1})`;
  }

  render(x) {
    switch (x.k) {
      case 'U': return this.from('p', "fact = 'any_event' AND src = '*'");
      case 'empty': return 'bitmapBuild(emptyArrayUInt32())';
      case 'fact': return this.from('p', factRange(x));
      case 'timed': return this.timed(x);
      case 'count': return this.from('f', `fact = ${lit(x.fact)} AND src = ${lit(x.src)} AND n ${x.cmp} ${num(x.value)}`);
      case 'recurring_conv': {
        // A conversion counts only at or after the user's last receipt of the
        // campaign: the converted users minus those received later.
        const alias = `r${this.extra.length}`;
        this.extra.push([alias, `SELECT groupBitmapState(r.uid) FROM
    (SELECT uid, t FROM facts WHERE fact = 'received' AND src = ${lit(x.src)}) AS r
    INNER JOIN (SELECT uid, t FROM facts WHERE fact = 'conv0' AND src = ${lit(x.src)}) AS c ON r.uid = c.uid
    WHERE r.t > c.t`]);
        return `bitmapAndnot(${this.from('p', `fact = 'conv0' AND src = ${lit(x.src)}`)}, ${alias})`;
      }
      case 'profile': return this.profile(x);
      case 'and': return x.parts.map((p) => this.render(p)).reduce((a, b) => `bitmapAnd(${a}, ${b})`);
      case 'or': return x.parts.map((p) => this.render(p)).reduce((a, b) => `bitmapOr(${a}, ${b})`);
      case 'andnot': return `bitmapAndnot(${this.render(x.a)}, ${this.render(x.b)})`;
      default: throw new Error(`unknown set algebra node ${x.k}`);
    }
  }

  /**
   * The latest t over the rows satisfies the bounds. One (fact, src): one row
   * per user, so a condition on t. Several (a tag): the latest t is past lo iff
   * some row is, and within hi iff no row is beyond it: the users with a row
   * past lo minus those with a row beyond hi, with no GROUP BY.
   */
  timed(x) {
    const b = x.bounds;
    const lo = b.lo && `t ${b.loIncl ? '>=' : '>'} ${bound(b.lo)}`;
    const hi = b.hi && `t ${b.hiIncl ? '<=' : '<'} ${bound(b.hi)}`;
    const range = factRange(x);
    if (x.facts.length === 1 && x.srcs.length === 1) return this.from('f', [range, lo, hi].filter(Boolean).join(' AND '));
    const reached = lo ? this.from('f', `${range} AND ${lo}`) : this.from('p', range);
    if (!hi) return reached;
    return `bitmapAndnot(${reached}, ${this.from('f', `${range} AND NOT (${hi})`)})`;
  }

  /** String attributes: the value bitmaps; numbers and the bucket: a scan of profiles. */
  profile(x) {
    if (x.type === 'number') {
      return this.from('a', `${d.ident(x.col)} ${x.op} ${num(x.value)}`);
    }
    const values = `fact = ${lit(`attr:${x.col}`)}`;
    switch (x.op) {
      case '=': return this.from('p', `${values} AND src = ${lit(x.value)}`);
      case 'in': return x.value.length ? this.from('p', `${values} AND ${inSet('src', x.value)}`) : 'bitmapBuild(emptyArrayUInt32())';
      case 'regex': return this.from('p', `${values} AND ${d.regex('src', lit(x.value))}`); // over the distinct values
      case 'notnull': return this.from('p', values);
      default: throw new Error(`unknown profile condition ${x.op}`);
    }
  }

  /** The full query: WITH the scans, SELECT what(bitmap). */
  sql(root, what) {
    const top = this.render(root);
    const withs = [];
    const agg = { p: ['groupBitmapOrStateIf(users', 'fact_bitmaps'], f: ['groupBitmapStateIf(uid', 'facts'], a: ['groupBitmapStateIf(uid', 'profiles'] };
    for (const [s, conds] of Object.entries(this.scans)) {
      if (!conds.length) continue;
      const [fn, table] = agg[s];
      const cols = conds.map((c) => `${fn}, ${c})`).join(',\n    ');
      const where = conds.length === 1 ? conds[0] : conds.map((c) => `(${c})`).join(' OR ');
      withs.push(`  (SELECT tuple(\n    ${cols})\n    FROM ${table} WHERE ${where}) AS ${s}`);
    }
    for (const [alias, sql] of this.extra) withs.push(`  (${sql}) AS ${alias}`);
    return withs.length ? `WITH\n${withs.join(',\n')}\nSELECT ${what(top)}` : `SELECT ${what(top)}`;
  }
}

function segmentQueries(suite, catalog, known) {
  return suite.order.map((id) => {
    const algebra = prune(compileSegment(suite, catalog, id), known);
    const count = new BitmapQuery().sql(algebra, (b) => `bitmapCardinality(${b})`);
    const members = new BitmapQuery().sql(algebra, (b) => `arrayJoin(bitmapToArray(${b})) AS uid`);
    return [id, { count, members }];
  });
}

async function main() {
  const args = parseCli(USAGE, {
    data: { required: true }, suite: { required: true }, out: { required: true }, reps: { default: '5' }, work: {},
  });
  const reps = parseReps(args.reps);
  const { catalog, suite, nowMs } = loadBenchInputs(args.data, args.suite);
  for (const id of suite.order) compileSegment(suite, catalog, id); // fail before loading

  const threads = os.availableParallelism();
  const work = path.resolve(args.work ?? path.join(args.out, 'clickhouse_tuned-work'));
  const settings = { max_threads: threads };
  const ch = new ChSession(work, settings);
  try {
    const [, loadMs] = await timed(async () => load(ch, args.data));
    const [, buildMs] = await timed(async () => build(ch, catalog));
    const facts = Number(ch.scalar('SELECT count() FROM facts'));
    const bytes = ch.rows(`SELECT table, sum(data_compressed_bytes), sum(data_uncompressed_bytes) FROM system.parts
      WHERE active AND database = currentDatabase() GROUP BY table ORDER BY table`);
    console.log(`clickhouse_tuned: loaded in ${loadMs.toFixed(0)} ms, built ${facts} fact rows in ${buildMs.toFixed(0)} ms (${threads} threads)`);
    const queries = segmentQueries(suite, catalog, dictionary(ch));
    const params = { now: nowMs };
    const peer = {
      name: 'clickhouse_tuned',
      count: async (q) => Number(ch.rowsBind(q.count, params)[0][0]),
      members: async (q) => ch.memberIds(q.members, params),
    };
    const segments = await runSegments(peer, queries, reps, args.out, (q) => q.count);
    writeResult(args.out, 'clickhouse_tuned', {
      engine: `ClickHouse ${ch.version()} (chdb ${ch.chdbVersion()})`, form: 'tuned',
      load_ms: loadMs, build_ms: buildMs, threads, settings, fact_rows: facts,
      tables: Object.fromEntries(bytes.map(([t, c, u]) => [t, { compressed_bytes: Number(c), bytes: Number(u) }])),
      params: { now: nowMs },
    }, segments);
  } finally {
    ch.close();
    if (!process.env.RETARGET_PEER_KEEP_WORK) fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`clickhouse tuned peer: ${e.message}\n`);
  process.exit(1);
});
