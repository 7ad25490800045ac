#!/usr/bin/env node
// DuckDB peer of the Retarget benchmark, tuned form. The schema and the query
// form are what a DuckDB expert would build for "which users are in this
// segment" (README.md explains why):
//
//   node duckdb_tuned_peer.mjs --data DIR --suite bench/suite.yaml --out OUTDIR [--reps 5]
//
// Load (load_ms): the distinct raw events into a staging table.
// Build (build_ms; an expert's ETL, done once, never per segment):
//   facts     (fact ENUM, src ENUM, uid UINTEGER, t BIGINT, n UINTEGER), sorted by
//             (fact, src, uid): one row per (fact, source, user) with the latest time
//             and the event count (facts.mjs has the fact kinds). Sorted, so the row
//             groups' zone maps make each leaf a range read of a few row groups;
//   fact_bits (fact, src, bits BIT): the bitmap (a DuckDB bitstring, one bit per dense
//             user id) of each (fact, src) held by at least 1/8 of the users, where
//             reading the bitstring is cheaper than aggregating the range;
//   profiles  (uid, bucket, the numeric custom attributes of the latest attributes
//             row), sorted by uid, one row per user of U;
//   users     (uid, user) to turn dense ids into external ids when listing members.
// Query: each segment is ONE prepared statement computing one bitstring per
// leaf (a fact_bits row, or bitstring_agg(uid) over a range of facts or over
// profiles) combined with & | ~ and counted with bit_count. `now` is the bound
// parameter $now.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { EVENT_COLUMNS, USER_COLUMNS, checkHeader, loadBenchInputs, parseCli, readFirstLine } from './semantics.mjs';
import { DIALECTS, num } from './straight_sql.mjs';
import { parseReps, runSegments, timed, writeResult } from './harness.mjs';
import { compileSegment, factDerivations, prune } from './facts.mjs';

const USAGE = 'node duckdb_tuned_peer.mjs --data DIR --suite bench/suite.yaml --out OUTDIR [--reps 5]';
const d = DIALECTS.duckdb;
const lit = d.lit;

/** A (fact, src) gets a precomputed bitstring when at least users/DENSE of the users hold it. */
const DENSE = 8;

/** SQL types of the events.csv and users.csv columns. */
const EVENT_TYPES = {
  time_ms: 'BIGINT', uid: 'UINTEGER', type: 'VARCHAR', campaign: 'VARCHAR', canvas: 'VARCHAR',
  step: 'VARCHAR', variant: 'VARCHAR', variation: 'VARCHAR', channel: 'VARCHAR', action: 'VARCHAR',
  alias: 'VARCHAR', conversion_event: 'INTEGER', flag: 'VARCHAR', enabled: 'BOOLEAN',
  subscription_group: 'VARCHAR', keyword_category: 'VARCHAR', country: 'VARCHAR', ltv: 'DOUBLE',
  plan: 'VARCHAR',
};
const USER_TYPES = { uid: 'UINTEGER', user: 'VARCHAR', bucket: 'USMALLINT' };

function readCsv(file, types) {
  const columns = Object.entries(types).map(([k, v]) => `${lit(k)}: ${lit(v)}`).join(', ');
  return `read_csv(${lit(file)}, header = true, delim = ',', quote = '"', escape = '"', ` +
    `nullstr = '', auto_detect = false, columns = {${columns}})`;
}

async function rows(conn, sql) {
  return (await conn.runAndReadAll(sql)).getRows();
}

// ---------------------------------------------------------------------------
// Load and build

export async function load(conn, dataDir) {
  const eventsFile = path.resolve(dataDir, 'events.csv');
  const usersFile = path.resolve(dataDir, 'users.csv');
  checkHeader(eventsFile, readFirstLine(eventsFile), EVENT_COLUMNS);
  checkHeader(usersFile, readFirstLine(usersFile), USER_COLUMNS);
  await conn.run(`CREATE TABLE ev AS SELECT DISTINCT * FROM ${readCsv(eventsFile, EVENT_TYPES)}`); // identical rows = one event
  await conn.run(`CREATE TABLE users_csv AS SELECT * FROM ${readCsv(usersFile, USER_TYPES)}`);
}

/** Builds the tables; returns {maxUid, facts (rows), dense (pairs with a bitstring)}. */
export async function build(conn, catalog) {
  const derivations = factDerivations(catalog, { str: lit, sep: 'chr(31)' });
  const union = derivations.map(([f, s, where]) => `SELECT ${f} AS fact, ${s} AS src, uid, time_ms FROM ev WHERE ${where}`);
  await conn.run(`CREATE TEMP TABLE facts_raw AS SELECT fact, src, uid, max(time_ms) AS t, count(*) AS n FROM (
${union.join('\nUNION ALL\n')}
) GROUP BY fact, src, uid`);
  // The latest state of each feature flag: one row per user whose flag is on.
  await conn.run(`INSERT INTO facts_raw SELECT 'flag_on:' || flag, '*', uid, max(time_ms), count(*) FROM ev
    WHERE type = 'feature_flag' AND flag IS NOT NULL GROUP BY flag, uid HAVING ${d.isTrue(d.latest('enabled'))}`);

  const [[missing]] = await rows(conn, 'SELECT count(*) FROM (SELECT DISTINCT uid FROM ev) WHERE uid NOT IN (SELECT uid FROM users_csv)');
  if (Number(missing)) throw new Error(`${missing} uids of events.csv are not in users.csv`);

  // The custom attributes take the values of the user's latest attributes row
  // (arg_max_null over a struct keeps NULLs: an empty field there = absent).
  const attrs = Object.entries(catalog.attributes).filter(([name]) => EVENT_COLUMNS.includes(name));
  const struct = attrs.length ? `struct_pack(${attrs.map(([n]) => `${d.ident(n)} := ${d.ident(n)}`).join(', ')})` : 'NULL';
  await conn.run(`CREATE TEMP TABLE latest_attributes AS SELECT uid, max(time_ms) AS t, arg_max_null(${struct}, time_ms) AS a
    FROM ev WHERE type = 'attributes' GROUP BY uid`);
  const numbers = attrs.filter(([, type]) => type === 'number');
  await conn.run(`CREATE TABLE profiles AS SELECT u.uid, us.bucket${numbers.map(([n]) => `, la.a.${d.ident(n)} AS ${d.ident(n)}`).join('')}
    FROM (SELECT uid FROM facts_raw WHERE fact = 'any_event' AND src = '*') AS u
    LEFT JOIN users_csv AS us USING (uid) LEFT JOIN latest_attributes AS la USING (uid) ORDER BY u.uid`);
  // String attributes are facts too: fact 'attr:<name>', src = the value.
  for (const [name, type] of attrs) {
    if (type === 'number') continue;
    await conn.run(`INSERT INTO facts_raw SELECT ${lit(`attr:${name}`)}, a.${d.ident(name)}, uid, t, 1 FROM latest_attributes
      WHERE a.${d.ident(name)} IS NOT NULL`);
  }

  // The staging tables go as soon as they are read for the last time (memory on L).
  for (const t of ['ev', 'latest_attributes']) await conn.run(`DROP TABLE ${t}`);

  // Dictionary-encoded keys, then the table sorted by them.
  await conn.run('CREATE TYPE fact_t AS ENUM (SELECT DISTINCT fact FROM facts_raw ORDER BY fact)');
  await conn.run('CREATE TYPE src_t AS ENUM (SELECT DISTINCT src FROM facts_raw ORDER BY src)');
  await conn.run(`CREATE TABLE facts AS SELECT fact::fact_t AS fact, src::src_t AS src, uid, t, n::UINTEGER AS n
    FROM facts_raw ORDER BY fact, src, uid`);
  await conn.run('DROP TABLE facts_raw');
  const [[maxUid, users]] = await rows(conn, 'SELECT max(uid), count(*) FROM users_csv');
  await conn.run(`CREATE TABLE fact_bits AS SELECT fact, src, bitstring_agg(uid, 0, ${num(Number(maxUid))}) AS bits, count(*) AS rows
    FROM facts GROUP BY fact, src HAVING count(*) * ${DENSE} >= ${num(Number(users))} ORDER BY fact, src`);
  await conn.run(`CREATE TABLE zero AS SELECT bitstring('0', ${num(Number(maxUid) + 1)}) AS zero`);
  await conn.run('CREATE TABLE users AS SELECT uid, user FROM users_csv ORDER BY uid');
  await conn.run('DROP TABLE users_csv');

  const [[facts]] = await rows(conn, 'SELECT count(*) FROM facts');
  const dense = new Set((await rows(conn, 'SELECT fact::VARCHAR, src::VARCHAR FROM fact_bits')).map(([f, s]) => `${f}\0${s}`));
  const known = {
    facts: new Set((await rows(conn, 'SELECT unnest(enum_range(NULL::fact_t))')).map(([f]) => f)),
    srcs: new Set((await rows(conn, 'SELECT unnest(enum_range(NULL::src_t))')).map(([s]) => s)),
  };
  return { maxUid: Number(maxUid), facts: Number(facts), dense, known };
}

// ---------------------------------------------------------------------------
// Rendering the set algebra as bitstring expressions

const fact = (f) => `${lit(f)}::fact_t`;
const source = (s) => `${lit(s)}::src_t`;
const eq = (col, values, cast) => (values.length === 1 ? `${col} = ${cast(values[0])}` : `${col} IN (${values.map(cast).join(', ')})`);

/** A time bound: relative to the $now parameter, or absolute. */
function bound(b) {
  if (!b.rel) return num(b.value);
  if (b.offset === 0) return '$now';
  return b.offset < 0 ? `($now - ${num(-b.offset)})` : `($now + ${num(b.offset)})`;
}

export class BitsQuery {
  constructor(env) {
    this.env = env; // {maxUid, dense, known}
    this.zero = 'z.zero'; // the empty set, read once per query from the one-row table zero
  }

  /** bitstring_agg over rows of a table; an empty set is the zero bitstring. */
  agg(from, where) {
    return `coalesce((SELECT bitstring_agg(uid, 0, ${this.env.maxUid}) FROM ${from} WHERE ${where}), ${this.zero})`;
  }

  /** Users with a row of one of x.facts at one of x.srcs: precomputed bitstrings where dense, ranges otherwise. */
  present(x) {
    const pairs = x.facts.flatMap((f) => x.srcs.map((s) => [f, s]));
    const dense = pairs.filter(([f, s]) => this.env.dense.has(`${f}\0${s}`));
    const sparse = pairs.filter(([f, s]) => !this.env.dense.has(`${f}\0${s}`));
    const parts = [];
    if (dense.length === 1) {
      parts.push(`(SELECT bits FROM fact_bits WHERE fact = ${fact(dense[0][0])} AND src = ${source(dense[0][1])})`);
    } else if (dense.length > 1) {
      parts.push(`(SELECT bit_or(bits) FROM fact_bits WHERE ${dense.map(([f, s]) => `(fact = ${fact(f)} AND src = ${source(s)})`).join(' OR ')})`);
    }
    if (sparse.length) {
      // The range of every (fact, src) asked for, minus the pairs read as bitstrings.
      const skip = dense.map(([f, s]) => ` AND NOT (fact = ${fact(f)} AND src = ${source(s)})`).join('');
      parts.push(this.agg('facts', `${eq('fact', x.facts, fact)} AND ${eq('src', x.srcs, source)}${skip}`));
    }
    return parts.length ? parts.reduce((a, b) => `(${a} | ${b})`) : this.zero;
  }

  render(x) {
    switch (x.k) {
      case 'U': return this.present({ facts: ['any_event'], srcs: ['*'] });
      case 'empty': return this.zero;
      case 'fact': return this.present(x);
      case 'timed': return this.timed(x);
      case 'count': return this.agg('facts', `fact = ${fact(x.fact)} AND src = ${source(x.src)} AND n ${x.cmp} ${num(x.value)}`);
      case 'recurring_conv': {
        // A conversion counts only at or after the user's last receipt: the
        // converted users minus those received later (a join of two ranges).
        const s = source(x.src);
        const later = `coalesce((SELECT bitstring_agg(r.uid, 0, ${this.env.maxUid})
    FROM (SELECT uid, t FROM facts WHERE fact = ${fact('received')} AND src = ${s}) AS r
    JOIN (SELECT uid, t FROM facts WHERE fact = ${fact('conv0')} AND src = ${s}) AS c USING (uid) WHERE r.t > c.t), ${this.zero})`;
        return `(${this.present({ facts: ['conv0'], srcs: [x.src] })} & ~${later})`;
      }
      case 'profile': return this.profile(x);
      case 'and': return `(${x.parts.map((p) => this.render(p)).join(' & ')})`;
      case 'or': return `(${x.parts.map((p) => this.render(p)).join(' | ')})`;
      case 'andnot': return `(${this.render(x.a)} & ~${this.render(x.b)})`;
      default: throw new Error(`unknown set algebra node ${x.k}`);
    }
  }

  /** As in the ClickHouse peer: one (fact, src) = a condition on t; a tag = rows past lo minus rows beyond hi. */
  timed(x) {
    const b = x.bounds;
    const lo = b.lo && `t ${b.loIncl ? '>=' : '>'} ${bound(b.lo)}`;
    const hi = b.hi && `t ${b.hiIncl ? '<=' : '<'} ${bound(b.hi)}`;
    const range = `${eq('fact', x.facts, fact)} AND ${eq('src', x.srcs, source)}`;
    if (x.facts.length === 1 && x.srcs.length === 1) return this.agg('facts', [range, lo, hi].filter(Boolean).join(' AND '));
    const reached = lo ? this.agg('facts', `${range} AND ${lo}`) : this.present(x);
    if (!hi) return reached;
    return `(${reached} & ~${this.agg('facts', `${range} AND NOT (${hi})`)})`;
  }

  /** String attributes: their facts rows; numbers and the bucket: a scan of profiles. */
  profile(x) {
    if (x.type === 'number') return this.agg('profiles', `${d.ident(x.col)} ${x.op} ${num(x.value)}`);
    const f = `attr:${x.col}`;
    if (!this.env.known.facts.has(f)) return this.zero;
    const values = (vs) => vs.filter((v) => this.env.known.srcs.has(v)); // a value nobody holds selects no row
    switch (x.op) {
      case '=': case 'in': {
        const vs = values([].concat(x.value));
        return vs.length ? this.present({ facts: [f], srcs: vs }) : this.zero;
      }
      case 'regex': return this.agg('facts', `fact = ${fact(f)} AND ${d.regex('src::VARCHAR', lit(x.value))}`);
      case 'notnull': return this.agg('facts', `fact = ${fact(f)}`);
      default: throw new Error(`unknown profile condition ${x.op}`);
    }
  }
}

export function segmentQueries(suite, catalog, env) {
  return suite.order.map((id) => {
    const algebra = prune(compileSegment(suite, catalog, id), env.known);
    const bits = new BitsQuery(env).render(algebra);
    const count = `SELECT bit_count(${bits}) FROM zero AS z`;
    // Members: the set bits' positions are the dense ids.
    const members = `SELECT p.uid, us.user FROM (SELECT ${bits} AS b FROM zero AS z) AS s,
  (SELECT range::UINTEGER AS uid FROM range(0, ${env.maxUid + 1})) AS p LEFT JOIN users AS us USING (uid)
  WHERE get_bit(s.b, p.uid::INTEGER) = 1`;
    return [id, { count, members }];
  });
}

async function main() {
  const args = parseCli(USAGE, {
    data: { required: true }, suite: { required: true }, out: { required: true }, reps: { default: '5' },
  });
  const reps = parseReps(args.reps);
  const { catalog, suite, nowMs } = loadBenchInputs(args.data, args.suite);
  for (const id of suite.order) compileSegment(suite, catalog, id); // fail before loading

  const threads = os.availableParallelism();
  const tmp = path.resolve(args.out, 'duckdb_tuned-tmp'); // where a build larger than memory spills
  const settings = {
    threads: String(threads),
    temp_directory: tmp,
    // Every scalar subquery here is an aggregate or a key lookup (one row at most):
    // skip the per-subquery row-count check.
    scalar_subquery_error_on_multiple_rows: 'false',
    // A segment's query is a dozen one-row subqueries, which the join-order
    // optimizer treats as relations to order on every run of the prepared
    // statement (win_back on S: 22 ms with it, 6.4 ms without); there is
    // nothing to reorder.
    disabled_optimizers: 'join_order',
  };
  const instance = await DuckDBInstance.create(':memory:', settings);
  const conn = await instance.connect();
  const [, loadMs] = await timed(() => load(conn, args.data));
  const [env, buildMs] = await timed(() => build(conn, catalog));
  console.log(`duckdb_tuned: loaded in ${loadMs.toFixed(0)} ms, built ${env.facts} fact rows and ${env.dense.size} bitstrings in ${buildMs.toFixed(0)} ms (${threads} threads)`);

  const prepared = new Map();
  const run = async (sql) => {
    if (!prepared.has(sql)) prepared.set(sql, await conn.prepare(sql));
    const stmt = prepared.get(sql);
    if (sql.includes('$now')) stmt.bind({ now: BigInt(nowMs) });
    return (await stmt.runAndReadAll()).getRows();
  };
  const peer = {
    name: 'duckdb_tuned',
    count: async (q) => Number((await run(q.count))[0][0]),
    members: async (q) => (await run(q.members)).map(([uid, user]) => {
      if (user === null) throw new Error(`member uid ${uid} is not in users.csv`);
      return user;
    }),
  };
  const queries = segmentQueries(suite, catalog, env);
  const segments = await runSegments(peer, queries, reps, args.out, (q) => q.count);
  if (process.env.RETARGET_PEER_PROFILE) {
    // Query plans with the time of each operator: OUTDIR/duckdb_tuned/<id>.plan.txt.
    for (const [id, q] of queries) {
      const plan = (await run(`EXPLAIN ANALYZE ${q.count}`)).map((r) => r[1]).join('\n');
      fs.writeFileSync(path.join(args.out, 'duckdb_tuned', `${id}.plan.txt`), plan);
    }
  }
  const [[version]] = await rows(conn, 'SELECT version()');
  writeResult(args.out, 'duckdb_tuned', {
    engine: `DuckDB ${version}`, form: 'tuned', load_ms: loadMs, build_ms: buildMs, threads, settings,
    fact_rows: env.facts, bitstrings: env.dense.size, params: { now: nowMs },
  }, segments);
  conn.closeSync();
  instance.closeSync();
  fs.rmSync(tmp, { recursive: true, force: true });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    process.stderr.write(`duckdb tuned peer: ${e.message}\n`);
    process.exit(1);
  });
}
