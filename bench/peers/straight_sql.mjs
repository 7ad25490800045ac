// The straightforward SQL translation of the suite, shared by the DuckDB and
// ClickHouse straightforward peers (duckdb_peer.mjs, clickhouse_peer.mjs).
//
// Every leaf becomes a query returning a set of uids over the raw event rows;
// all / any / not / exclude become INTERSECT / UNION / EXCEPT; complements
// (not, have:false, is:false, blank:true, ...) are taken over U = every uid
// named by an event (CTE `u`); a nested `segment` filter reads the referenced
// segment's CTE. The two dialects differ only in the few spellings of
// DIALECTS below; the translation is the same.

import {
  LAST_RECEIVED_CHANNEL, PROFILE_FLAG_EVENT, actionEvents, controlVariationPairs, segmentDependencies,
} from './semantics.mjs';

/**
 * The spellings that differ between the engines:
 *   lit: a string literal;
 *   setOps: the set operators (ClickHouse needs DISTINCT spelled out: its
 *     UNION has no default mode and INTERSECT/EXCEPT default to ALL);
 *   operand(sql): an operand of a set operator (ClickHouse's parser takes no
 *     parenthesised compound query as an operand, so each is a subquery);
 *   ident: identifier quoting;
 *   latest(col): the value of `col` on the row with the latest time_ms, NULL
 *     included (DuckDB arg_max_null; ClickHouse argMax skips NULL arguments, so
 *     the value is wrapped in a tuple, which is never NULL);
 *   isTrue(expr): a nullable boolean that is TRUE;
 *   regex(v, pattern): unanchored RE2 search.
 */
export const DIALECTS = {
  duckdb: {
    name: 'duckdb',
    lit: (s) => `'${String(s).replaceAll("'", "''")}'`,
    setOps: { union: 'UNION', intersect: 'INTERSECT', except: 'EXCEPT' },
    operand: (sql) => `(${sql})`,
    ident: (s) => `"${String(s).replaceAll('"', '""')}"`,
    latest: (col) => `arg_max_null(${col}, time_ms)`,
    isTrue: (expr) => `${expr} IS TRUE`,
    regex: (v, pattern) => `regexp_matches(${v}, ${pattern})`,
  },
  clickhouse: {
    name: 'clickhouse',
    lit: (s) => `'${String(s).replaceAll('\\', '\\\\').replaceAll("'", "''")}'`,
    setOps: { union: 'UNION DISTINCT', intersect: 'INTERSECT DISTINCT', except: 'EXCEPT DISTINCT' },
    operand: (sql) => `SELECT uid FROM (${sql})`,
    ident: (s) => `\`${String(s).replaceAll('\\', '\\\\').replaceAll('`', '\\`')}\``,
    latest: (col) => `argMax(tuple(${col}), time_ms).1`,
    isTrue: (expr) => `coalesce(${expr}, false)`,
    regex: (v, pattern) => `match(${v}, ${pattern})`,
  },
};

// ---------------------------------------------------------------------------
// SQL text helpers

/**
 * A SQL string literal in the dialect of the translator built last (a process
 * runs one dialect). DuckDB strings know only '' ; ClickHouse strings also
 * read backslash escapes, so its backslashes are doubled.
 */
export const lit = (s) => literal(s);
let literal = (s) => DIALECTS.duckdb.lit(s);

/** A SQL numeric literal (checked finite). */
export function num(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`not a finite number: ${v}`);
  return String(v);
}

/** `col IN (...)`, or FALSE for an empty list. */
export const inList = (col, values) => (values.length ? `${col} IN (${values.map(lit).join(', ')})` : 'FALSE');

/** Conjunction of SQL conditions. */
export const and = (...conds) => conds.filter(Boolean).map((c) => `(${c})`).join(' AND ');

// ---------------------------------------------------------------------------
// Translator: segment trees -> SQL

/**
 * Translates normalised segment trees (semantics.mjs) into SQL. Each method
 * returns a complete SELECT that yields one column `uid` (a set of users).
 */
export class SqlTranslator {
  constructor(dialect, catalog, suite, nowMs) {
    this.dialect = dialect;
    literal = dialect.lit;
    this.catalog = catalog;
    this.suite = suite;
    this.nowMs = nowMs;
    this.controlPairs = controlVariationPairs(catalog);
  }

  /** The full query of a segment: WITH u, the nested segments' CTEs, then the segment. */
  segmentQuery(id) {
    const ctes = [['u', 'SELECT DISTINCT uid FROM events']];
    for (const dep of segmentDependencies(this.suite, id)) ctes.push([this.segmentCte(dep), this.segmentBody(dep)]);
    const with_ = ctes.map(([name, sql]) => `${name} AS (\n${sql}\n)`).join(',\n');
    return `WITH ${with_}\n${this.segmentBody(id)}`;
  }

  /** The CTE name of a segment. */
  segmentCte(id) { return this.dialect.ident(`seg:${id}`); }

  /** A segment's own set: match EXCEPT (exclude_1 UNION ...). */
  segmentBody(id) {
    const seg = this.suite.segments.get(id);
    const match = this.node(seg.matchTree);
    if (seg.excludeTrees.length === 0) return match;
    return this.except(match, this.union(seg.excludeTrees.map((t) => this.node(t))));
  }

  node(tree) {
    switch (tree.op) {
      case 'all': return this.intersect(tree.children.map((c) => this.node(c)));
      case 'any': return this.union(tree.children.map((c) => this.node(c)));
      case 'not': return this.complement(this.node(tree.child));
      case 'leaf': return this.leaf(tree.leaf);
      default: throw new Error(`unknown tree node ${tree.op}`);
    }
  }

  // Set algebra. Every operand is parenthesised, so precedence never matters.
  intersect(parts) { return parts.length ? parts.map((p) => this.dialect.operand(p)).join(`\n${this.dialect.setOps.intersect}\n`) : 'SELECT uid FROM u'; }
  union(parts) { return parts.length ? parts.map((p) => this.dialect.operand(p)).join(`\n${this.dialect.setOps.union}\n`) : 'SELECT uid FROM u WHERE FALSE'; }
  except(a, b) { return `${this.dialect.operand(a)}\n${this.dialect.setOps.except}\n${this.dialect.operand(b)}`; }
  complement(sql) { return this.except('SELECT uid FROM u', sql); }
  /** `sql` when positive, its complement over U otherwise (have/is/are: false). */
  polarity(positive, sql) { return positive ? sql : this.complement(sql); }

  /** Users with at least one event matching `cond`. */
  having(cond) { return `SELECT DISTINCT uid FROM events WHERE ${cond}`; }

  /** Users whose latest event matching `cond` satisfies the time bounds. */
  timed(cond, bounds) {
    if (bounds.blank !== undefined) return this.polarity(!bounds.blank, this.having(cond));
    return `SELECT uid FROM events WHERE ${cond} GROUP BY uid HAVING ${this.timeCond('max(time_ms)', bounds)}`;
  }

  timeCond(expr, b) {
    const parts = [];
    if (b.lo !== undefined) parts.push(`${expr} ${b.loIncl ? '>=' : '>'} ${num(b.lo)}`);
    if (b.hi !== undefined) parts.push(`${expr} ${b.hiIncl ? '<=' : '<'} ${num(b.hi)}`);
    return parts.join(' AND ');
  }

  /** Events of the campaigns and Canvases (any step) carrying `tag`. */
  taggedSources(tag) {
    const t = this.catalog.tags.get(tag);
    return `${inList('campaign', t.campaigns)} OR ${inList('canvas', t.canvases)}`;
  }

  /** canvas_entered events into a control variation of `canvas` (any Canvas when null). */
  controlEntries(canvas) {
    const pairs = this.controlPairs.filter(([k]) => canvas === null || k === canvas);
    const pairConds = pairs.map(([k, v]) => and(`canvas = ${lit(k)}`, `variation = ${lit(v)}`));
    return and(`type = 'canvas_entered'`, pairConds.length ? pairConds.join(' OR ') : 'FALSE');
  }

  leaf({ filter, params: p, time, attrType }) {
    const translate = LEAF_SQL[filter];
    if (!translate) throw new Error(`duckdb peer: no SQL translator for filter '${filter}'`);
    return translate.call(this, p, time, attrType);
  }
}

const interaction = (...conds) => and(`type = 'interaction'`, ...conds);
const received = (...conds) => and(`type = 'received'`, ...conds);
const actionIn = (action) => inList('action', actionEvents(action));
const clickedAlias = (alias) => and(`action = 'clicked_email'`, `alias = ${lit(alias)}`);
// conversion_event defaults to 0 (primary) when missing.
const primaryConversion = (...conds) => and(`type = 'converted'`, 'conversion_event = 0 OR conversion_event IS NULL', ...conds);

/** The latest value of a custom attribute per user: the value on the latest attributes row (NULL = absent). */
function latestAttribute(dialect, name) {
  return `SELECT uid, ${dialect.latest(dialect.ident(name))} AS v FROM events WHERE type = 'attributes' GROUP BY uid`;
}

/** One translator per filter name: (params, timeBounds, attrType) -> SQL set of uids. `this` is the SqlTranslator. */
const LEAF_SQL = {
  // --- Interaction-dependent filters.
  clicked_alias_in_campaign(p) {
    return this.polarity(p.have, this.having(interaction(`campaign = ${lit(p.campaign)}`, clickedAlias(p.alias))));
  },
  clicked_alias_in_canvas_step(p) {
    return this.polarity(p.have, this.having(interaction(
      `canvas = ${lit(p.canvas)}`, `step = ${lit(p.step)}`, clickedAlias(p.alias))));
  },
  clicked_opened_campaign(p) {
    return this.polarity(p.have, this.having(interaction(`campaign = ${lit(p.campaign)}`, actionIn(p.action))));
  },
  clicked_opened_step(p) {
    return this.polarity(p.have, this.having(interaction(
      `canvas = ${lit(p.canvas)}`, `step = ${lit(p.step)}`, actionIn(p.action))));
  },
  converted_campaign(p) {
    // A primary conversion, not in the campaign's control group; for a recurring
    // campaign the latest primary conversion must be at or after the latest receipt
    // (or the user never received it).
    const c = lit(p.campaign);
    let converted;
    if (this.catalog.campaigns.get(p.campaign).recurring) {
      converted = `SELECT cv.uid FROM (SELECT uid, max(time_ms) AS t FROM events WHERE ${primaryConversion(`campaign = ${c}`)} GROUP BY uid) AS cv
  LEFT JOIN (SELECT uid, max(time_ms) AS t FROM events WHERE ${received(`campaign = ${c}`)} GROUP BY uid) AS rc USING (uid)
  WHERE rc.t IS NULL OR cv.t >= rc.t`;
    } else {
      converted = this.having(primaryConversion(`campaign = ${c}`));
    }
    const control = this.having(and(`type = 'control'`, `campaign = ${c}`));
    return this.polarity(p.have, this.except(converted, control));
  },
  converted_canvas(p) {
    return this.polarity(p.have, this.having(primaryConversion(`canvas = ${lit(p.canvas)}`)));
  },
  entered_canvas_variation(p) {
    return this.polarity(p.have, this.having(and(
      `type = 'canvas_entered'`, `canvas = ${lit(p.canvas)}`, `variation = ${lit(p.variation)}`)));
  },
  in_campaign_control_group(p) {
    return this.polarity(p.are, this.having(and(`type = 'control'`, `campaign = ${lit(p.campaign)}`)));
  },
  in_canvas_control_group(p) {
    // Only users who entered the Canvas: are:false = entered, never a control variation.
    const control = this.having(this.controlEntries(p.canvas));
    if (p.are) return control;
    return this.except(this.having(and(`type = 'canvas_entered'`, `canvas = ${lit(p.canvas)}`)), control);
  },
  last_received_campaign(p, time) {
    return this.timed(received(`campaign = ${lit(p.campaign)}`), time);
  },
  last_received_canvas_step(p, time) {
    return this.timed(received(`canvas = ${lit(p.canvas)}`, `step = ${lit(p.step)}`), time);
  },
  received_campaign_variant(p) {
    return this.polarity(p.have, this.having(received(`campaign = ${lit(p.campaign)}`, `variant = ${lit(p.variant)}`)));
  },
  received_campaign(p) {
    return this.polarity(p.have, this.having(received(`campaign = ${lit(p.campaign)}`)));
  },
  received_canvas_step(p) {
    return this.polarity(p.have, this.having(received(`canvas = ${lit(p.canvas)}`, `step = ${lit(p.step)}`)));
  },
  received_tagged(p) {
    return this.polarity(p.have, this.having(received(this.taggedSources(p.tag))));
  },
  clicked_opened_tagged(p) {
    return this.polarity(p.have, this.having(interaction(this.taggedSources(p.tag), actionIn(p.action))));
  },
  last_received_tagged(p, time) {
    return this.timed(received(this.taggedSources(p.tag)), time);
  },

  // --- Profile-level filters.
  clicked_alias_any(p) {
    return this.polarity(p.have, this.having(interaction(clickedAlias(p.alias))));
  },
  feature_flag(p) {
    // Latest state of the flag; never set = disabled, so enabled:false = not (latest is true).
    const enabled = `SELECT uid FROM events WHERE ${and(`type = 'feature_flag'`, `flag = ${lit(p.flag)}`)}
  GROUP BY uid HAVING ${this.dialect.isTrue(this.dialect.latest('enabled'))}`;
    return this.polarity(p.enabled, enabled);
  },
  hard_bounced(p) { return this.polarity(p.is, this.having(`type = ${lit(PROFILE_FLAG_EVENT.hard_bounced)}`)); },
  marked_spam(p) { return this.polarity(p.is, this.having(`type = ${lit(PROFILE_FLAG_EVENT.marked_spam)}`)); },
  invalid_phone(p) { return this.polarity(p.is, this.having(`type = ${lit(PROFILE_FLAG_EVENT.invalid_phone)}`)); },
  never_received(p) {
    return this.polarity(!p.is, this.having(received()));
  },
  last_engaged(p, time) { return this.timed(interaction(), time); },
  last_enrolled_control_group(p, time) {
    return this.timed(`type = 'control' OR (${this.controlEntries(null)})`, time);
  },
  last_in_app_impression(p, time) { return this.timed(interaction(`action = 'viewed_in_app'`), time); },
  last_received_any(p, time) { return this.timed(received(), time); },
  last_received_email(p, time) { return this.timed(received(`channel = 'email'`), time); },
  last_received_push(p, time) { return this.timed(received(`channel = 'push'`), time); },
  last_received_sms(p, time) { return this.timed(received(`channel = 'sms'`), time); },
  last_received_webhook(p, time) { return this.timed(received(`channel = 'webhook'`), time); },
  last_received_whatsapp(p, time) { return this.timed(received(`channel = 'whatsapp'`), time); },
  last_sms_inbound_keyword(p, time) {
    return this.timed(and(`type = 'sms_inbound'`, `subscription_group = ${lit(p.subscription_group)}`,
      `keyword_category = ${lit(p.keyword_category)}`), time);
  },
  last_viewed_news_feed(p, time) { return this.timed(`type = 'news_feed_view'`, time); },
  news_feed_view_count(p) {
    // Distinct views (the table holds distinct rows); users with none count 0.
    const op = COUNT_OPS[p.op];
    return `SELECT u.uid FROM u LEFT JOIN (SELECT uid, count(*) AS n FROM events WHERE type = 'news_feed_view' GROUP BY uid) AS nf
  USING (uid) WHERE coalesce(nf.n, 0) ${op} ${num(p.value)}`;
  },

  // --- General filters.
  custom_attribute(p, time, attrType) {
    const value = attrType === 'number' ? num : lit;
    const attr = latestAttribute(this.dialect, p.name);
    const where = (cond) => `SELECT uid FROM (${attr}) AS a WHERE ${cond}`;
    switch (p.op) {
      case 'equals': return where(`v = ${value(p.value)}`);
      case 'not_equals': return this.complement(where(`v = ${value(p.value)}`)); // also users lacking it
      case 'more_than': return where(`v > ${value(p.value)}`);
      case 'less_than': return where(`v < ${value(p.value)}`);
      case 'in': return where(inList('v', p.value));
      case 'not_in': return this.complement(where(inList('v', p.value))); // also users lacking it
      case 'matches': return where(this.dialect.regex('v', lit(p.value)));
      case 'exists': return where('v IS NOT NULL');
      case 'not_exists': return this.complement(where('v IS NOT NULL'));
      default: throw new Error(`custom_attribute: unsupported op '${p.op}'`);
    }
  },
  segment(p) {
    return this.polarity(p.in, `SELECT uid FROM ${this.segmentCte(p.id)}`);
  },
  random_bucket(p) {
    // The bucket comes from users.csv; restricted to U like every other set.
    return `SELECT uid FROM users WHERE bucket ${COUNT_OPS[p.op]} ${num(p.value)} AND uid IN (SELECT uid FROM u)`;
  },
};

export const COUNT_OPS = { equals: '=', more_than: '>', less_than: '<' };
