// What the two ClickHouse peers share: the chdb session (embedded ClickHouse,
// no server), the schemas of the generator's CSV files, and helpers.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import { Session } from 'chdb';
import { DIALECTS } from './straight_sql.mjs';

const lit = DIALECTS.clickhouse.lit;

/** ClickHouse types of the events.csv columns (empty field = NULL). */
export const EVENT_SCHEMA = [
  'time_ms Int64', 'uid UInt32', 'type String', 'campaign Nullable(String)', 'canvas Nullable(String)',
  'step Nullable(String)', 'variant Nullable(String)', 'variation Nullable(String)', 'channel Nullable(String)',
  'action Nullable(String)', 'alias Nullable(String)', 'conversion_event Nullable(Int32)', 'flag Nullable(String)',
  'enabled Nullable(Bool)', 'subscription_group Nullable(String)', 'keyword_category Nullable(String)',
  'country Nullable(String)', 'ltv Nullable(Float64)', 'plan Nullable(String)',
].join(', ');

/** ClickHouse types of the users.csv columns. */
export const USER_SCHEMA = 'uid UInt32, user String, bucket UInt16';

/** The file() table function over a CSV file with a header and an explicit schema. */
export function fileSource(file, schema) {
  return `file(${lit(file)}, 'CSVWithNames', ${lit(schema)})`;
}

/**
 * One chdb session in its own directory (created empty; the caller removes it).
 * Session-level settings are applied with SET and stay for every query.
 */
export class ChSession {
  constructor(dir, settings = {}) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    this.session = new Session(dir);
    for (const [k, v] of Object.entries(settings)) this.run(`SET ${k} = ${typeof v === 'string' ? lit(v) : v}`);
  }

  /** Runs a statement (the result is dropped). */
  run(sql) { this.session.query(sql, 'TSV'); }

  /** Rows of a query as arrays of TSV fields (\N = null). */
  rows(sql) {
    const text = this.session.query(sql, 'TSV');
    if (text === '') return [];
    return text.replace(/\n$/, '').split('\n').map((l) => l.split('\t').map((f) => (f === '\\N' ? null : f)));
  }

  /** The one value of a one-row, one-column query. */
  scalar(sql) {
    const r = this.rows(sql);
    if (r.length !== 1 || r[0].length !== 1) throw new Error(`expected one value from: ${sql.slice(0, 200)}`);
    return r[0][0];
  }

  /** Runs a query with bound {name:Type} parameters; returns its rows. */
  rowsBind(sql, params) {
    const text = this.session.queryBind(sql, params, 'TSV');
    if (text === '') return [];
    return text.replace(/\n$/, '').split('\n').map((l) => l.split('\t').map((f) => (f === '\\N' ? null : f)));
  }

  /**
   * External ids of the uids a query yields (column `uid`), through `users`;
   * a uid missing from users.csv is an error. `params` binds placeholders.
   */
  memberIds(sql, params) {
    const q = `SELECT m.uid, us.user FROM (\n${sql}\n) AS m LEFT ANY JOIN users AS us ON m.uid = us.uid SETTINGS join_use_nulls = 1`;
    const rows = params ? this.rowsBind(q, params) : this.rows(q);
    return rows.map(([uid, user]) => {
      if (user === null) throw new Error(`member uid ${uid} is not in users.csv`);
      return user;
    });
  }

  version() { return this.scalar('SELECT version()'); }

  chdbVersion() {
    const require = createRequire(import.meta.url);
    return require('chdb/package.json').version;
  }

  close() { this.session.close(); }
}
