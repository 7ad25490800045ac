#!/usr/bin/env node
// DuckDB peer of the Retarget benchmark, straightforward form.
//
//   node duckdb_peer.mjs --data DIR --suite bench/suite.yaml --out OUTDIR [--reps 5]
//
// Loads DIR/events.csv and DIR/users.csv into native DuckDB tables (in-memory
// database, threads = the machine's cores; identical event rows collapse),
// translates each segment of the suite into ONE SQL query over the raw event
// rows (straight_sql.mjs: INTERSECT / UNION / EXCEPT over uid sets,
// complements over U) and times it with the shared harness (harness.mjs:
// warm-up, members to OUTDIR/duckdb/<segment>.ids, median of --reps count runs).
// Writes OUTDIR/duckdb.json.

import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import { EVENT_COLUMNS, USER_COLUMNS, checkHeader, loadBenchInputs, parseCli, readFirstLine } from './semantics.mjs';
import { DIALECTS, SqlTranslator, lit } from './straight_sql.mjs';
import { parseReps, runSegments, writeResult } from './harness.mjs';

const USAGE = 'node duckdb_peer.mjs --data DIR --suite bench/suite.yaml --out OUTDIR [--reps 5]';

/** SQL types of the events.csv columns. */
const EVENT_TYPES = {
  time_ms: 'BIGINT', uid: 'INTEGER', type: 'VARCHAR', campaign: 'VARCHAR', canvas: 'VARCHAR',
  step: 'VARCHAR', variant: 'VARCHAR', variation: 'VARCHAR', channel: 'VARCHAR', action: 'VARCHAR',
  alias: 'VARCHAR', conversion_event: 'INTEGER', flag: 'VARCHAR', enabled: 'BOOLEAN',
  subscription_group: 'VARCHAR', keyword_category: 'VARCHAR', country: 'VARCHAR', ltv: 'DOUBLE',
  plan: 'VARCHAR',
};
const USER_TYPES = { uid: 'INTEGER', user: 'VARCHAR', bucket: 'INTEGER' };

// ---------------------------------------------------------------------------
// Loading

/** The read_csv call for a file with explicit column types; empty field = NULL. */
function readCsv(file, types) {
  const columns = Object.entries(types).map(([k, v]) => `${lit(k)}: ${lit(v)}`).join(', ');
  return `read_csv(${lit(file)}, header = true, delim = ',', quote = '"', escape = '"', ` +
    `nullstr = '', auto_detect = false, columns = {${columns}})`;
}

/** Creates the native tables; returns the load time in ms. */
async function loadTables(conn, dataDir) {
  const eventsFile = path.resolve(dataDir, 'events.csv');
  const usersFile = path.resolve(dataDir, 'users.csv');
  checkHeader(eventsFile, readFirstLine(eventsFile), EVENT_COLUMNS);
  checkHeader(usersFile, readFirstLine(usersFile), USER_COLUMNS);
  const t0 = performance.now();
  // Identical rows are the same event (events are idempotent by content): DISTINCT.
  await conn.run(`CREATE TABLE events AS SELECT DISTINCT * FROM ${readCsv(eventsFile, EVENT_TYPES)}`);
  await conn.run(`CREATE TABLE users AS SELECT * FROM ${readCsv(usersFile, USER_TYPES)}`);
  return performance.now() - t0;
}

// ---------------------------------------------------------------------------
// Running

/** Runs a query and returns its rows (arrays). */
async function rows(conn, sql) {
  const reader = await conn.runAndReadAll(sql);
  return reader.getRows();
}

async function count(conn, sql) {
  const [[n]] = await rows(conn, `SELECT count(*) FROM (\n${sql}\n)`);
  return Number(n);
}

/** The external ids of the members (every uid must be in users.csv). */
async function memberIds(conn, sql) {
  const result = await rows(conn, `SELECT m.uid, us.user FROM (\n${sql}\n) AS m LEFT JOIN users AS us USING (uid)`);
  return result.map(([uid, user]) => {
    if (user === null) throw new Error(`member uid ${uid} is not in users.csv`);
    return user;
  });
}

async function main() {
  const args = parseCli(USAGE, {
    data: { required: true }, suite: { required: true }, out: { required: true }, reps: { default: '5' },
  });
  const reps = parseReps(args.reps);
  const { catalog, suite, nowMs } = loadBenchInputs(args.data, args.suite);
  const translator = new SqlTranslator(DIALECTS.duckdb, catalog, suite, nowMs);
  const queries = suite.order.map((id) => [id, translator.segmentQuery(id)]); // fail before loading

  const threads = os.availableParallelism();
  const instance = await DuckDBInstance.create(':memory:', { threads: String(threads) });
  const conn = await instance.connect();
  const loadMs = await loadTables(conn, args.data);
  const [[events]] = await rows(conn, 'SELECT count(*) FROM events');
  console.log(`duckdb: loaded ${Number(events)} distinct events in ${loadMs.toFixed(0)} ms (${threads} threads)`);

  const peer = { name: 'duckdb', count: (sql) => count(conn, sql), members: (sql) => memberIds(conn, sql) };
  const segments = await runSegments(peer, queries, reps, args.out);
  writeResult(args.out, 'duckdb', {
    engine: `DuckDB ${await version(conn)}`, form: 'straightforward', load_ms: loadMs, build_ms: 0, threads,
  }, segments);
  conn.closeSync();
  instance.closeSync();
}

async function version(conn) {
  const [[v]] = await rows(conn, 'SELECT version()');
  return String(v);
}

main().catch((e) => {
  process.stderr.write(`duckdb peer: ${e.message}\n`);
  process.exit(1);
});
