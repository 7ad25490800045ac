#!/usr/bin/env node
// json-rules-engine peer of the Retarget benchmark.
//
//   node jre_peer.mjs --data DIR --suite bench/suite.yaml --out OUTDIR
//
// Streams DIR/events.csv into one fact object per user (latest times per
// source / step / action / channel, sets of variations, flags, ...), then for
// each segment builds a json-rules-engine Engine holding the segment as a rule
// and runs it for every user of U (every uid named by an event), collecting the
// members. The whole pass over the users is timed (one pass per segment).
// Writes OUTDIR/jre/<segment>.ids and OUTDIR/jre.json.
//
// Rule shape: every filter leaf is a condition on the dynamic fact `leaf` with
// params {filter, ...params} (computed from the user's facts, see LEAF_EVAL);
// all / any / not map to the engine's all / any / not; `exclude` is
// `not: {any: [...]}`; a nested `segment` leaf is a condition reference to the
// referenced segment's conditions, registered with engine.setCondition.

import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { Engine } from 'json-rules-engine';
import {
  EVENT_COLUMNS, USER_COLUMNS, LAST_RECEIVED_CHANNEL, PROFILE_FLAG_EVENT, actionEvents,
  checkHeader, loadBenchInputs, parseCli, segmentDependencies, splitCsvLine, timeBounds,
  timeMatches, writeIds, writeJson,
} from './semantics.mjs';

const USAGE = 'node jre_peer.mjs --data DIR --suite bench/suite.yaml --out OUTDIR';

// ---------------------------------------------------------------------------
// Per-user facts

/** Keys of the per-user maps (NUL-separated parts). */
const key = (...parts) => parts.join('\0');

/** Sets map[k] to t when t is later than what it holds. */
function bump(map, k, t) {
  const cur = map.get(k);
  if (cur === undefined || t > cur) map.set(k, t);
}

/** A user's facts, built from their events. All times are ms since epoch. */
class UserFacts {
  constructor(uid) {
    this.uid = uid;
    this.received = new Map();      // latest `received` per: c|campaign, cv|campaign|variant, k|canvas, ks|canvas|step, ch|channel
    this.lastReceived = undefined;  // latest `received` of any kind
    this.interactions = new Map();  // latest `interaction` per: c|campaign|action, k|canvas|action, ks|canvas|step|action,
                                    // ca|campaign|alias, ksa|canvas|step|alias, a|alias (clicked_email aliases), act|action
    this.lastInteraction = undefined;
    this.actionsBySource = new Map(); // c|campaign or k|canvas -> Set of actions performed (for tag filters)
    this.conversions = new Map();   // campaign -> latest primary conversion
    this.canvasConversions = new Set(); // Canvases with a primary conversion
    this.controlCampaigns = new Set();  // campaigns whose control group the user was enrolled in
    this.lastControl = undefined;   // latest control enrollment (campaign control event or Canvas control variation)
    this.entered = new Map();       // canvas -> Set of variations entered
    this.profileFlags = new Set();  // event types hard_bounce / spam_report / invalid_phone seen
    this.featureFlags = new Map();  // flag -> {t, enabled} of the latest feature_flag event
    this.newsFeedViews = new Set(); // distinct news_feed_view events (by content)
    this.lastNewsFeed = undefined;
    this.smsInbound = new Map();    // group|category -> latest sms_inbound
    this.attributes = undefined;    // {t, values} of the latest attributes row
  }
}

/** Records that the user performed `action` on a source (c|campaign or k|canvas). */
function addAction(f, source, action) {
  let actions = f.actionsBySource.get(source);
  if (actions === undefined) f.actionsBySource.set(source, (actions = new Set()));
  actions.add(action);
}

/** Column index by name. */
const COL = Object.fromEntries(EVENT_COLUMNS.map((c, i) => [c, i]));

/** Parses a CSV boolean the way DuckDB's BOOLEAN cast does for the usual spellings. */
function parseBool(s) {
  if (s === null) return null;
  const v = s.toLowerCase();
  if (v === 'true' || v === 't' || v === '1') return true;
  if (v === 'false' || v === 'f' || v === '0') return false;
  throw new Error(`bad boolean '${s}'`);
}

/** Parses a CSV integer (null stays null). */
function parseInt10(s, what) {
  if (s === null) return null;
  const v = Number(s);
  if (!Number.isInteger(v)) throw new Error(`bad ${what} '${s}'`);
  return v;
}

/**
 * Adds one event row (already split) to its user's facts. `env` holds
 * controls (canvas -> Set of control variations) and attributes
 * ([name, column index, type] of the declared custom attributes).
 */
function addEvent(f, row, t, env) {
  const campaign = row[COL.campaign];
  const canvas = row[COL.canvas];
  const step = row[COL.step];
  switch (row[COL.type]) {
    case 'received': {
      const channel = row[COL.channel];
      if (campaign !== null) {
        bump(f.received, key('c', campaign), t);
        if (row[COL.variant] !== null) bump(f.received, key('cv', campaign, row[COL.variant]), t);
      }
      if (canvas !== null) {
        bump(f.received, key('k', canvas), t);
        if (step !== null) bump(f.received, key('ks', canvas, step), t);
      }
      if (channel !== null) bump(f.received, key('ch', channel), t);
      if (f.lastReceived === undefined || t > f.lastReceived) f.lastReceived = t;
      break;
    }
    case 'interaction': {
      const action = row[COL.action];
      const alias = action === 'clicked_email' ? row[COL.alias] : null;
      if (campaign !== null) {
        addAction(f, key('c', campaign), action);
        bump(f.interactions, key('c', campaign, action), t);
        if (alias !== null) bump(f.interactions, key('ca', campaign, alias), t);
      }
      if (canvas !== null) {
        addAction(f, key('k', canvas), action);
        bump(f.interactions, key('k', canvas, action), t);
        if (step !== null) {
          bump(f.interactions, key('ks', canvas, step, action), t);
          if (alias !== null) bump(f.interactions, key('ksa', canvas, step, alias), t);
        }
      }
      if (alias !== null) bump(f.interactions, key('a', alias), t);
      bump(f.interactions, key('act', action), t);
      if (f.lastInteraction === undefined || t > f.lastInteraction) f.lastInteraction = t;
      break;
    }
    case 'converted': {
      // conversion_event defaults to 0 (primary) when missing.
      if ((parseInt10(row[COL.conversion_event], 'conversion_event') ?? 0) !== 0) break;
      if (campaign !== null) bump(f.conversions, campaign, t);
      if (canvas !== null) f.canvasConversions.add(canvas);
      break;
    }
    case 'control':
      if (campaign !== null) f.controlCampaigns.add(campaign);
      if (f.lastControl === undefined || t > f.lastControl) f.lastControl = t;
      break;
    case 'canvas_entered': {
      const variation = row[COL.variation];
      if (canvas === null) break;
      if (!f.entered.has(canvas)) f.entered.set(canvas, new Set());
      f.entered.get(canvas).add(variation);
      if (env.controls.get(canvas)?.has(variation) && (f.lastControl === undefined || t > f.lastControl)) f.lastControl = t;
      break;
    }
    case 'hard_bounce':
    case 'spam_report':
    case 'invalid_phone':
      f.profileFlags.add(row[COL.type]);
      break;
    case 'feature_flag': {
      const flag = row[COL.flag];
      const cur = f.featureFlags.get(flag);
      if (cur === undefined || t > cur.t) f.featureFlags.set(flag, { t, enabled: parseBool(row[COL.enabled]) });
      break;
    }
    case 'news_feed_view':
      // Identical rows are one event: count distinct contents.
      f.newsFeedViews.add(key(t, ...row.slice(COL.type)));
      if (f.lastNewsFeed === undefined || t > f.lastNewsFeed) f.lastNewsFeed = t;
      break;
    case 'sms_inbound':
      bump(f.smsInbound, key(row[COL.subscription_group], row[COL.keyword_category]), t);
      break;
    case 'attributes':
      // Every attributes row sets all the attributes: keep the latest row.
      if (f.attributes === undefined || t > f.attributes.t) f.attributes = { t, values: attributeValues(row, env.attributes) };
      break;
    default:
      break; // canvas_exited and unknown types feed no filter
  }
}

/** The custom attribute values of an attributes row (null = absent). */
function attributeValues(row, attributes) {
  const values = {};
  for (const [name, col, type] of attributes) {
    const s = row[col];
    if (s === null || type !== 'number') {
      values[name] = s;
    } else {
      const v = Number(s);
      if (!Number.isFinite(v)) throw new Error(`bad number '${s}' for attribute ${name}`);
      values[name] = v;
    }
  }
  return values;
}

/** Reads a CSV file line by line, calling onRow(fields, lineNumber) after checking the header. */
async function forEachCsvRow(file, columns, onRow) {
  const lines = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (n === 1) { checkHeader(file, line, columns); continue; }
    if (line === '') continue;
    const row = splitCsvLine(line);
    if (row.length !== columns.length) throw new Error(`${file}:${n}: ${row.length} fields, expected ${columns.length}`);
    try {
      onRow(row, n);
    } catch (e) {
      throw new Error(`${file}:${n}: ${e.message}`);
    }
  }
}

/** Builds the facts of every user of U (uids named by events), keyed by uid. */
async function loadFacts(dataDir, catalog) {
  const env = {
    controls: new Map([...catalog.canvases].map(([id, k]) => [id, k.controls])),
    attributes: Object.entries(catalog.attributes)
      .filter(([name]) => COL[name] !== undefined)
      .map(([name, type]) => [name, COL[name], type]),
  };
  const facts = new Map();
  await forEachCsvRow(path.join(dataDir, 'events.csv'), EVENT_COLUMNS, (row) => {
    const uid = parseInt10(row[COL.uid], 'uid');
    const t = parseInt10(row[COL.time_ms], 'time_ms');
    if (uid === null || t === null) throw new Error('missing uid or time_ms');
    let f = facts.get(uid);
    if (f === undefined) facts.set(uid, (f = new UserFacts(uid)));
    addEvent(f, row, t, env);
  });
  return facts;
}

/** Reads users.csv: uid -> {user, bucket}; sets facts.bucket for users of U. */
async function loadUsers(dataDir, facts) {
  const users = new Map();
  await forEachCsvRow(path.join(dataDir, 'users.csv'), USER_COLUMNS, (row) => {
    const uid = parseInt10(row[0], 'uid');
    users.set(uid, { user: row[1], bucket: parseInt10(row[2], 'bucket') });
  });
  for (const [uid, f] of facts) {
    const u = users.get(uid);
    if (u === undefined) throw new Error(`uid ${uid} appears in events.csv but not in users.csv`);
    f.bucket = u.bucket;
  }
  return users;
}

// ---------------------------------------------------------------------------
// Leaf evaluation: one evaluator per filter name, (params, facts, ctx) -> boolean.
// ctx = {catalog, nowMs}. Complements (have/is/are: false) are taken here; the
// engine runs every user of U, so "complement over U" is plain negation.

/** Latest time over several keys of a map. */
function latest(map, keys) {
  let best;
  for (const k of keys) {
    const t = map.get(k);
    if (t !== undefined && (best === undefined || t > best)) best = t;
  }
  return best;
}

/** Latest interaction with one of the actions `action` stands for, under a key prefix. */
const latestAction = (f, prefix, action) => latest(f.interactions, actionEvents(action).map((a) => key(...prefix, a)));

/**
 * Source keys (c|campaign, k|canvas) of every campaign and Canvas carrying
 * each tag: tag -> Set. Tag filters walk the user's own sources and test
 * membership here (a user has few sources; a tag may have many).
 */
function tagSourceKeys(catalog) {
  const out = new Map();
  for (const [tag, t] of catalog.tags) {
    out.set(tag, new Set([...t.campaigns.map((c) => key('c', c)), ...t.canvases.map((k) => key('k', k))]));
  }
  return out;
}

/** Latest receipt of any source carrying the tag (received keys c|x and k|x are source keys). */
function latestTaggedReceipt(f, ctx, tag) {
  const sources = ctx.tagSources.get(tag);
  let best;
  for (const [k, t] of f.received) if (sources.has(k) && (best === undefined || t > best)) best = t;
  return best;
}

/** Did the user perform one of `action`'s events on a source carrying the tag? */
function actedOnTagged(f, ctx, tag, action) {
  const sources = ctx.tagSources.get(tag);
  const events = actionEvents(action);
  for (const [source, actions] of f.actionsBySource) {
    if (sources.has(source) && events.some((a) => actions.has(a))) return true;
  }
  return false;
}

const time = (p, ctx, t) => timeMatches(timeBounds(p, ctx.nowMs), t);
const has = (positive, present) => present === positive;
const COUNT_CMP = { equals: (a, b) => a === b, more_than: (a, b) => a > b, less_than: (a, b) => a < b };

const LEAF_EVAL = {
  // --- Interaction-dependent filters.
  clicked_alias_in_campaign: (p, f) => has(p.have, f.interactions.has(key('ca', p.campaign, p.alias))),
  clicked_alias_in_canvas_step: (p, f) => has(p.have, f.interactions.has(key('ksa', p.canvas, p.step, p.alias))),
  clicked_opened_campaign: (p, f) => has(p.have, latestAction(f, ['c', p.campaign], p.action) !== undefined),
  clicked_opened_step: (p, f) => has(p.have, latestAction(f, ['ks', p.canvas, p.step], p.action) !== undefined),
  converted_campaign(p, f, ctx) {
    const conv = f.conversions.get(p.campaign);
    let yes = conv !== undefined && !f.controlCampaigns.has(p.campaign);
    if (yes && ctx.catalog.campaigns.get(p.campaign).recurring) {
      const rec = f.received.get(key('c', p.campaign));
      yes = rec === undefined || conv >= rec;
    }
    return has(p.have, yes);
  },
  converted_canvas: (p, f) => has(p.have, f.canvasConversions.has(p.canvas)),
  entered_canvas_variation: (p, f) => has(p.have, f.entered.get(p.canvas)?.has(p.variation) === true),
  in_campaign_control_group: (p, f) => has(p.are, f.controlCampaigns.has(p.campaign)),
  in_canvas_control_group(p, f, ctx) {
    const entered = f.entered.get(p.canvas);
    if (entered === undefined) return false; // only users who entered the Canvas
    const controls = ctx.catalog.canvases.get(p.canvas).controls;
    const inControl = [...entered].some((v) => controls.has(v));
    return has(p.are, inControl);
  },
  last_received_campaign: (p, f, ctx) => time(p, ctx, f.received.get(key('c', p.campaign))),
  last_received_canvas_step: (p, f, ctx) => time(p, ctx, f.received.get(key('ks', p.canvas, p.step))),
  received_campaign_variant: (p, f) => has(p.have, f.received.has(key('cv', p.campaign, p.variant))),
  received_campaign: (p, f) => has(p.have, f.received.has(key('c', p.campaign))),
  received_canvas_step: (p, f) => has(p.have, f.received.has(key('ks', p.canvas, p.step))),
  received_tagged: (p, f, ctx) => has(p.have, latestTaggedReceipt(f, ctx, p.tag) !== undefined),
  clicked_opened_tagged: (p, f, ctx) => has(p.have, actedOnTagged(f, ctx, p.tag, p.action)),
  last_received_tagged: (p, f, ctx) => time(p, ctx, latestTaggedReceipt(f, ctx, p.tag)),

  // --- Profile-level filters.
  clicked_alias_any: (p, f) => has(p.have, f.interactions.has(key('a', p.alias))),
  feature_flag: (p, f) => (f.featureFlags.get(p.flag)?.enabled === true) === p.enabled, // never set = disabled
  hard_bounced: (p, f) => has(p.is, f.profileFlags.has(PROFILE_FLAG_EVENT.hard_bounced)),
  marked_spam: (p, f) => has(p.is, f.profileFlags.has(PROFILE_FLAG_EVENT.marked_spam)),
  invalid_phone: (p, f) => has(p.is, f.profileFlags.has(PROFILE_FLAG_EVENT.invalid_phone)),
  never_received: (p, f) => has(p.is, f.lastReceived === undefined),
  last_engaged: (p, f, ctx) => time(p, ctx, f.lastInteraction),
  last_enrolled_control_group: (p, f, ctx) => time(p, ctx, f.lastControl),
  last_in_app_impression: (p, f, ctx) => time(p, ctx, f.interactions.get(key('act', 'viewed_in_app'))),
  ...Object.fromEntries(Object.entries(LAST_RECEIVED_CHANNEL).map(([name, channel]) => [
    name,
    (p, f, ctx) => time(p, ctx, channel === null ? f.lastReceived : f.received.get(key('ch', channel))),
  ])),
  last_sms_inbound_keyword: (p, f, ctx) => time(p, ctx, f.smsInbound.get(key(p.subscription_group, p.keyword_category))),
  last_viewed_news_feed: (p, f, ctx) => time(p, ctx, f.lastNewsFeed),
  news_feed_view_count: (p, f) => COUNT_CMP[p.op](f.newsFeedViews.size, p.value),

  // --- General filters (segment is a condition reference, not a leaf fact).
  custom_attribute(p, f) {
    const v = f.attributes?.values[p.name] ?? null; // latest attributes row; null = absent
    switch (p.op) {
      case 'equals': return v !== null && v === p.value;
      case 'not_equals': return v === null || v !== p.value; // also users lacking it
      case 'more_than': return v !== null && v > p.value;
      case 'less_than': return v !== null && v < p.value;
      case 'in': return v !== null && p.value.includes(v);
      case 'not_in': return v === null || !p.value.includes(v); // also users lacking it
      case 'matches': return v !== null && new RegExp(p.value).test(v);
      case 'exists': return v !== null;
      case 'not_exists': return v === null;
      default: throw new Error(`custom_attribute: unsupported op '${p.op}'`);
    }
  },
  random_bucket: (p, f) => COUNT_CMP[p.op](f.bucket, p.value),
};

// ---------------------------------------------------------------------------
// Segment trees -> json-rules-engine conditions

/** Name under which a segment's conditions are registered (engine.setCondition). */
const conditionName = (id) => `segment:${id}`;

/** A normalised tree (semantics.mjs) as json-rules-engine conditions. */
function toConditions(tree) {
  switch (tree.op) {
    case 'all':
      return { all: tree.children.map(toConditions) };
    case 'any':
      // json-rules-engine passes an empty `any`; an empty OR is false.
      if (tree.children.length === 0) return { not: { all: [] } };
      return { any: tree.children.map(toConditions) };
    case 'not':
      return { not: toConditions(tree.child) };
    case 'leaf': {
      const { filter, params } = tree.leaf;
      if (filter === 'segment') {
        const ref = { condition: conditionName(params.id) };
        return params.in ? ref : { not: ref };
      }
      if (!LEAF_EVAL[filter]) throw new Error(`jre peer: no evaluator for filter '${filter}'`);
      return { fact: 'leaf', params: { filter, ...params }, operator: 'equal', value: true };
    }
    default:
      throw new Error(`unknown tree node ${tree.op}`);
  }
}

/** A segment's top-level conditions: match AND NOT (any exclude). */
function segmentConditions(seg) {
  const match = toConditions(seg.matchTree);
  if (seg.excludeTrees.length === 0) return { all: [match] };
  return { all: [match, { not: { any: seg.excludeTrees.map(toConditions) } }] };
}

/** An engine holding one segment as a rule, with its nested segments as named conditions. */
function buildEngine(suite, id, ctx) {
  const engine = new Engine([], { allowUndefinedFacts: false, allowUndefinedConditions: false });
  engine.addFact('leaf', async (params, almanac) => {
    const facts = await almanac.factValue('user');
    const { filter, ...p } = params;
    return LEAF_EVAL[filter](p, facts, ctx);
  }, { cache: false }); // every leaf is evaluated once per run; skip hashing params
  for (const dep of segmentDependencies(suite, id)) {
    engine.setCondition(conditionName(dep), segmentConditions(suite.segments.get(dep)));
  }
  engine.addRule({ name: id, conditions: segmentConditions(suite.segments.get(id)), event: { type: 'member' } });
  return engine;
}

/** Runs one segment over every user; returns {members (uids), total_ms}. */
async function runSegment(engine, users) {
  const members = [];
  const t0 = performance.now();
  for (const f of users) {
    const { events } = await engine.run({ user: f });
    if (events.length > 0) members.push(f.uid);
  }
  return { members, totalMs: performance.now() - t0 };
}

async function main() {
  const args = parseCli(USAGE, { data: { required: true }, suite: { required: true }, out: { required: true } });
  const { catalog, suite, nowMs } = loadBenchInputs(args.data, args.suite);
  const ctx = { catalog, nowMs, tagSources: tagSourceKeys(catalog) };
  const engines = suite.order.map((id) => [id, buildEngine(suite, id, ctx)]); // fail before loading

  const t0 = performance.now();
  const facts = await loadFacts(args.data, catalog);
  const users = await loadUsers(args.data, facts);
  const all = [...facts.values()].sort((a, b) => a.uid - b.uid);
  const loadMs = performance.now() - t0;
  console.log(`jre: facts of ${all.length} users built in ${loadMs.toFixed(0)} ms`);

  const segments = {};
  for (const [id, engine] of engines) {
    const { members, totalMs } = await runSegment(engine, all);
    writeIds(path.join(args.out, 'jre', `${id}.ids`), members.map((uid) => users.get(uid).user));
    const perUserUs = (totalMs * 1000) / all.length;
    segments[id] = { count: members.length, total_ms: totalMs, per_user_us: perUserUs };
    console.log(`jre ${id.padEnd(30)} ${String(members.length).padStart(9)} members  ${totalMs.toFixed(0)} ms  ${perUserUs.toFixed(2)} us/user`);
  }
  const require = createRequire(import.meta.url);
  writeJson(path.join(args.out, 'jre.json'), {
    peer: 'json-rules-engine', engine: `json-rules-engine ${require('json-rules-engine/package.json').version}`,
    form: 'per user', users: all.length, load_ms: loadMs, build_ms: 0, segments,
  });
}

main().catch((e) => {
  process.stderr.write(`jre peer: ${e.message}\n`);
  process.exit(1);
});
