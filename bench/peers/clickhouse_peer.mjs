#!/usr/bin/env node
// ClickHouse peer of the Retarget benchmark, straightforward form (embedded
// ClickHouse through the npm package chdb: no server).
//
//   node clickhouse_peer.mjs --data DIR --suite bench/suite.yaml --out OUTDIR [--reps 5] [--work DIR]
//
// Loads DIR/events.csv into a MergeTree table `events` ordered by (type, uid)
// (one row per distinct event, the raw columns, String ids) and DIR/users.csv
// into `users`; merges each into one part (OPTIMIZE FINAL); translates each
// segment into ONE SQL query over the raw rows, the same translation as the
// DuckDB straightforward peer (straight_sql.mjs) in ClickHouse's dialect, and
// times it with the shared harness. Writes OUTDIR/clickhouse.json and
// OUTDIR/clickhouse/<segment>.ids. The database lives in --work (default
// OUTDIR/clickhouse-work), removed at the end.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EVENT_COLUMNS, USER_COLUMNS, checkHeader, loadBenchInputs, parseCli, readFirstLine } from './semantics.mjs';
import { DIALECTS, SqlTranslator } from './straight_sql.mjs';
import { parseReps, runSegments, timed, writeResult } from './harness.mjs';
import { ChSession, EVENT_SCHEMA, USER_SCHEMA, fileSource } from './clickhouse_common.mjs';

const USAGE = 'node clickhouse_peer.mjs --data DIR --suite bench/suite.yaml --out OUTDIR [--reps 5] [--work DIR]';

/** Loads the two tables; returns the load time in ms. */
async function loadTables(ch, dataDir) {
  const eventsFile = path.resolve(dataDir, 'events.csv');
  const usersFile = path.resolve(dataDir, 'users.csv');
  checkHeader(eventsFile, readFirstLine(eventsFile), EVENT_COLUMNS);
  checkHeader(usersFile, readFirstLine(usersFile), USER_COLUMNS);
  const [, ms] = await timed(async () => {
    ch.run(`CREATE TABLE events (${EVENT_SCHEMA}) ENGINE = MergeTree ORDER BY (type, uid)`);
    // Identical rows are the same event (events are idempotent by content): DISTINCT.
    ch.run(`INSERT INTO events SELECT DISTINCT * FROM ${fileSource(eventsFile, EVENT_SCHEMA)}`);
    ch.run(`CREATE TABLE users (${USER_SCHEMA}) ENGINE = MergeTree ORDER BY uid`);
    ch.run(`INSERT INTO users SELECT * FROM ${fileSource(usersFile, USER_SCHEMA)}`);
    ch.run('OPTIMIZE TABLE events FINAL');
    ch.run('OPTIMIZE TABLE users FINAL');
  });
  return ms;
}

async function main() {
  const args = parseCli(USAGE, {
    data: { required: true }, suite: { required: true }, out: { required: true }, reps: { default: '5' }, work: {},
  });
  const reps = parseReps(args.reps);
  const { catalog, suite, nowMs } = loadBenchInputs(args.data, args.suite);
  const translator = new SqlTranslator(DIALECTS.clickhouse, catalog, suite, nowMs);
  const queries = suite.order.map((id) => [id, translator.segmentQuery(id)]); // fail before loading

  const threads = os.availableParallelism();
  const work = path.resolve(args.work ?? path.join(args.out, 'clickhouse-work'));
  const settings = {
    max_threads: threads,
    // Standard SQL outer joins: an unmatched side is NULL (the translation tests IS NULL).
    join_use_nulls: 1,
  };
  const ch = new ChSession(work, settings);
  try {
    const loadMs = await loadTables(ch, args.data);
    const events = Number(ch.scalar('SELECT count() FROM events'));
    console.log(`clickhouse: loaded ${events} distinct events in ${loadMs.toFixed(0)} ms (${threads} threads)`);
    const peer = {
      name: 'clickhouse',
      count: async (sql) => Number(ch.scalar(`SELECT count() FROM (\n${sql}\n)`)),
      members: async (sql) => ch.memberIds(`SELECT m.uid AS uid FROM (\n${sql}\n) AS m`),
    };
    const segments = await runSegments(peer, queries, reps, args.out);
    writeResult(args.out, 'clickhouse', {
      engine: `ClickHouse ${ch.version()} (chdb ${ch.chdbVersion()})`, form: 'straightforward',
      load_ms: loadMs, build_ms: 0, threads, settings,
    }, segments);
  } finally {
    ch.close();
    if (!process.env.RETARGET_PEER_KEEP_WORK) fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`clickhouse peer: ${e.message}\n`);
  process.exit(1);
});
