// Shared semantics of the benchmark peers (bench/peers/).
//
// Both peers (duckdb_peer.mjs, jre_peer.mjs) translate the same suite of
// segments; this module holds what they must agree on, so that only the
// evaluation strategy differs between them:
//   - loading catalog.yaml, manifest.json and the suite (js-yaml);
//   - the parameter table of the 38 filters (defaults, allowed values, catalog
//     references), with validation that names the filter and the segment;
//   - segment trees (all / any / not / leaf) and nested-segment dependencies;
//   - time predicates (now = manifest now_ms, DATE = YYYY-MM-DD in UTC);
//   - interaction actions, tag -> sources, Canvas control variations;
//   - small helpers: CLI parsing, CSV lines, id files, medians.
//
// The exact semantics follow /work/shared/spec/filters.md; where it is silent,
// the engine's documented decisions (see the comments at each place).

import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import yaml from 'js-yaml';

/** One day in milliseconds (filters.md: N·24h). */
export const DAY_MS = 86_400_000;

/** Columns of DIR/events.csv, in order (the generator's contract). */
export const EVENT_COLUMNS = [
  'time_ms', 'uid', 'type', 'campaign', 'canvas', 'step', 'variant', 'variation',
  'channel', 'action', 'alias', 'conversion_event', 'flag', 'enabled',
  'subscription_group', 'keyword_category', 'country', 'ltv', 'plan',
];

/** Columns of DIR/users.csv, in order. */
export const USER_COLUMNS = ['uid', 'user', 'bucket'];

/** The interaction actions of an `interaction` event (formats.md). */
export const EVENT_ACTIONS = [
  'opened_email', 'opened_email_machine', 'clicked_email', 'opened_push',
  'viewed_in_app', 'clicked_in_app', 'clicked_sms', 'read_whatsapp',
  'clicked_content_card',
];

/** Channels of a `received` event. */
export const CHANNELS = ['email', 'push', 'sms', 'whatsapp', 'webhook', 'in_app', 'content_card'];

/** Keys of a time predicate (exactly one per filter). */
export const TIME_KEYS = ['more_than_days_ago', 'less_than_days_ago', 'after', 'before', 'blank'];

/**
 * The event actions a filter's `action` parameter stands for (filters.md,
 * "Interaction action"): `opened_email` is any open (human or machine),
 * `opened_email_other` the human ones only, `any` every action.
 */
export function actionEvents(action) {
  switch (action) {
    case 'opened_email': return ['opened_email', 'opened_email_machine'];
    case 'opened_email_other': return ['opened_email'];
    case 'any': return EVENT_ACTIONS.slice();
    default:
      if (EVENT_ACTIONS.includes(action)) return [action];
      throw new Error(`unknown interaction action '${action}'`);
  }
}

/** Every value the `action` parameter accepts. */
export const FILTER_ACTIONS = [...EVENT_ACTIONS, 'opened_email_other', 'any'];

// ---------------------------------------------------------------------------
// Command line and files

/**
 * Parses `--name value` options. `spec` maps option name -> {required?, default?}.
 * Exits with a usage message on a bad command line.
 */
export function parseCli(usage, spec) {
  const options = {};
  for (const name of Object.keys(spec)) options[name] = { type: 'string' };
  let values;
  try {
    ({ values } = parseArgs({ options, strict: true, allowPositionals: false }));
  } catch (e) {
    usageExit(usage, e.message);
  }
  for (const [name, s] of Object.entries(spec)) {
    if (values[name] === undefined) {
      if (s.required) usageExit(usage, `missing --${name}`);
      values[name] = s.default;
    }
  }
  return values;
}

function usageExit(usage, why) {
  process.stderr.write(`error: ${why}\nusage: ${usage}\n`);
  process.exit(2);
}

/**
 * Reads a YAML file with the CORE schema: plain scalars are strings, numbers,
 * booleans or null; no YAML timestamps (so `before: 2026-03-01` stays the
 * string '2026-03-01'), and no custom tags.
 */
export function readYaml(file) {
  const text = fs.readFileSync(file, 'utf8');
  try {
    return yaml.load(text, { schema: yaml.CORE_SCHEMA, filename: file });
  } catch (e) {
    throw new Error(`${file}: ${e.message}`);
  }
}

/** Reads DIR/manifest.json; returns it with `now_ms` checked. */
export function loadManifest(dataDir) {
  const file = path.join(dataDir, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Number.isFinite(manifest.now_ms)) throw new Error(`${file}: missing numeric now_ms`);
  if (manifest.now !== undefined && Date.parse(manifest.now) !== manifest.now_ms) {
    throw new Error(`${file}: now (${manifest.now}) and now_ms (${manifest.now_ms}) disagree`);
  }
  return manifest;
}

/** Plain byte-order (code unit) comparison of ASCII ids. */
export function compareIds(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Writes ids one per line, sorted by byte order (a copy is sorted). */
export function writeIds(file, ids) {
  const sorted = Array.from(ids).sort(compareIds);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, sorted.length ? sorted.join('\n') + '\n' : '');
}

/** Reads an id file (one id per line; blank lines ignored). */
export function readIds(file) {
  return fs.readFileSync(file, 'utf8').split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l !== '');
}

/** Writes a JSON file (pretty, trailing newline). */
export function writeJson(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

/** Median of a non-empty list of numbers. */
export function median(values) {
  const s = values.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Splits one CSV line (RFC 4180 quoting, no embedded line breaks).
 * Empty unquoted fields are returned as null (= NULL, as in the contract);
 * a quoted empty field "" is the empty string.
 */
export function splitCsvLine(line) {
  if (line.indexOf('"') < 0) {
    const out = line.split(',');
    for (let i = 0; i < out.length; i++) if (out[i] === '') out[i] = null;
    return out;
  }
  const out = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const j = line.indexOf('"', i);
        if (j < 0) throw new Error(`unterminated quoted CSV field: ${line}`);
        v += line.slice(i, j);
        if (line[j + 1] === '"') { v += '"'; i = j + 2; continue; }
        i = j + 1;
        break;
      }
      out.push(v);
    } else {
      const j = line.indexOf(',', i);
      const v = j < 0 ? line.slice(i) : line.slice(i, j);
      out.push(v === '' ? null : v);
      i = j < 0 ? line.length : j;
    }
    if (i >= line.length) break;
    if (line[i] !== ',') throw new Error(`bad CSV quoting: ${line}`);
    i++;
    if (i === line.length) { out.push(null); break; }
  }
  return out;
}

/** Checks that a CSV header line equals the expected columns. */
export function checkHeader(file, headerLine, expected) {
  const got = splitCsvLine(headerLine.replace(/\r$/, '')).join(',');
  if (got !== expected.join(',')) {
    throw new Error(`${file}: header is '${got}', expected '${expected.join(',')}'`);
  }
}

/** First line of a file (reads only the start). */
export function readFirstLine(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const text = buf.subarray(0, n).toString('utf8');
    const nl = text.indexOf('\n');
    return (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '');
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------
// Catalog

/** Ids of a catalog list whose items are either `id` strings or `{id: ...}` maps. */
function idsOf(list) {
  return (list ?? []).map((x) => (typeof x === 'object' && x !== null ? String(x.id) : String(x)));
}

/**
 * Loads DIR/catalog.yaml into lookup tables:
 *   campaigns: Map id -> {tags, multivariate, variants:Set, recurring}
 *   canvases:  Map id -> {tags, steps:Set, variations:Set, controls:Set}
 *   tags:      Map tag -> {campaigns:[ids], canvases:[ids]}
 *   attributes: {name: type}
 */
export function loadCatalog(dataDir) {
  const file = path.join(dataDir, 'catalog.yaml');
  const doc = readYaml(file) ?? {};
  const campaigns = new Map();
  const canvases = new Map();
  const tags = new Map();
  const tagEntry = (t) => {
    if (!tags.has(t)) tags.set(t, { campaigns: [], canvases: [] });
    return tags.get(t);
  };
  for (const c of doc.campaigns ?? []) {
    const id = String(c.id);
    const entry = {
      tags: idsOf(c.tags),
      multivariate: c.multivariate === true,
      variants: new Set(idsOf(c.variants)),
      recurring: c.recurring === true,
    };
    campaigns.set(id, entry);
    for (const t of entry.tags) tagEntry(t).campaigns.push(id);
  }
  for (const k of doc.canvases ?? []) {
    const id = String(k.id);
    const variations = k.variations ?? [];
    const entry = {
      tags: idsOf(k.tags),
      steps: new Set(idsOf(k.steps)),
      variations: new Set(idsOf(variations)),
      // A variation marked `control: true` is the Canvas control group.
      controls: new Set(variations.filter((v) => v && v.control === true).map((v) => String(v.id))),
    };
    canvases.set(id, entry);
    for (const t of entry.tags) tagEntry(t).canvases.push(id);
  }
  return { campaigns, canvases, tags, attributes: doc.attributes ?? {} };
}

/** Every (canvas, control variation) pair of the catalog. */
export function controlVariationPairs(catalog) {
  const pairs = [];
  for (const [canvas, k] of catalog.canvases) for (const v of k.controls) pairs.push([canvas, v]);
  return pairs;
}

// ---------------------------------------------------------------------------
// Time predicates

/** Start (00:00 UTC) of a `YYYY-MM-DD` day, in ms. The company time zone is UTC here. */
export function dayStartMs(date, where) {
  const text = date instanceof Date ? date.toISOString().slice(0, 10) : String(date);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) throw new Error(`${where}: '${text}' is not a YYYY-MM-DD date`);
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (new Date(ms).toISOString().slice(0, 10) !== text) throw new Error(`${where}: '${text}' is not a valid date`);
  return ms;
}

/**
 * Turns a filter's time predicate into bounds on t (the filter's time: the
 * latest matching event), given `now` in ms:
 *   {blank: true}  t absent          {blank: false} t present
 *   {lo, loIncl, hi, hiIncl}: t present and lo <(=) t <(=) hi (missing bound = open)
 * filters.md: more_than_days_ago N: t < now − N·day; less_than_days_ago N:
 * now − N·day < t ≤ now; after DATE: t ≥ start of the day after DATE;
 * before DATE: t < start of DATE.
 */
export function timeBounds(params, nowMs, where = 'time predicate') {
  const keys = TIME_KEYS.filter((k) => params[k] !== undefined);
  if (keys.length !== 1) {
    throw new Error(`${where}: needs exactly one of ${TIME_KEYS.join(', ')} (got ${keys.length ? keys.join(', ') : 'none'})`);
  }
  const key = keys[0];
  const v = params[key];
  switch (key) {
    case 'blank':
      if (typeof v !== 'boolean') throw new Error(`${where}: blank must be true or false`);
      return { blank: v };
    case 'more_than_days_ago':
      return { hi: nowMs - days(v, where) * DAY_MS, hiIncl: false };
    case 'less_than_days_ago':
      return { lo: nowMs - days(v, where) * DAY_MS, loIncl: false, hi: nowMs, hiIncl: true };
    case 'after':
      return { lo: dayStartMs(v, where) + DAY_MS, loIncl: true };
    case 'before':
      return { hi: dayStartMs(v, where), hiIncl: false };
    default:
      throw new Error(`${where}: unknown time key ${key}`);
  }
}

function days(v, where) {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new Error(`${where}: the number of days must be a non-negative number (got ${JSON.stringify(v)})`);
  }
  return v;
}

/** Does a time t (ms, or undefined when absent) satisfy the bounds? */
export function timeMatches(bounds, t) {
  if (bounds.blank !== undefined) return bounds.blank ? t === undefined : t !== undefined;
  if (t === undefined) return false;
  if (bounds.lo !== undefined && !(bounds.loIncl ? t >= bounds.lo : t > bounds.lo)) return false;
  if (bounds.hi !== undefined && !(bounds.hiIncl ? t <= bounds.hi : t < bounds.hi)) return false;
  return true;
}

// ---------------------------------------------------------------------------
// The filters' parameters

// Parameter kinds: each checks a value and may check a catalog reference.
// `ctx` is {catalog, suite, params} (params: the leaf's raw params, for
// references that depend on another parameter, e.g. a step of a canvas).
const P = {
  bool: { check: (v) => typeof v === 'boolean' || 'must be true or false' },
  string: { check: (v) => typeof v === 'string' || 'must be a string' },
  number: { check: (v) => (typeof v === 'number' && Number.isFinite(v)) || 'must be a number' },
  any: { check: () => true },
  campaign: {
    check: (v, ctx) => (typeof v === 'string' && ctx.catalog.campaigns.has(v)) || `unknown campaign '${v}'`,
  },
  canvas: {
    check: (v, ctx) => (typeof v === 'string' && ctx.catalog.canvases.has(v)) || `unknown Canvas '${v}'`,
  },
  step: {
    check: (v, ctx) => {
      const k = ctx.catalog.canvases.get(ctx.params.canvas);
      return (k !== undefined && k.steps.has(v)) || `unknown step '${v}' of Canvas '${ctx.params.canvas}'`;
    },
  },
  variant: {
    check: (v, ctx) => {
      const c = ctx.catalog.campaigns.get(ctx.params.campaign);
      if (!c) return `unknown campaign '${ctx.params.campaign}'`;
      if (!c.multivariate) return `campaign '${ctx.params.campaign}' is not multivariate`;
      return c.variants.has(v) || `unknown variant '${v}' of campaign '${ctx.params.campaign}'`;
    },
  },
  multivariateCampaign: {
    check: (v, ctx) => {
      const c = ctx.catalog.campaigns.get(v);
      if (!c) return `unknown campaign '${v}'`;
      return c.multivariate || `campaign '${v}' is not multivariate`;
    },
  },
  variation: {
    check: (v, ctx) => {
      const k = ctx.catalog.canvases.get(ctx.params.canvas);
      return (k !== undefined && k.variations.has(v)) || `unknown variation '${v}' of Canvas '${ctx.params.canvas}'`;
    },
  },
  tag: { check: (v, ctx) => (typeof v === 'string' && ctx.catalog.tags.has(v)) || `unknown tag '${v}'` },
  action: { check: (v) => FILTER_ACTIONS.includes(v) || `unknown action '${v}' (one of ${FILTER_ACTIONS.join(', ')})` },
  segment: { check: (v, ctx) => ctx.suite.segments.has(v) || `unknown segment '${v}'` },
  countOp: { check: (v) => ['equals', 'more_than', 'less_than'].includes(v) || `op must be equals, more_than or less_than` },
  bucket: {
    check: (v) => (Number.isInteger(v) && v >= 0 && v <= 9999) || 'must be an integer 0..9999',
  },
  time: { check: () => true }, // checked by timeBounds
};

const req = (kind) => ({ kind, required: true });
const opt = (kind, dflt) => ({ kind, required: false, default: dflt });
const HAVE = { have: opt('bool', true) };
const TIME = Object.fromEntries(TIME_KEYS.map((k) => [k, opt('time')]));

/**
 * The 38 filters: name -> {params: {name: {kind, required, default}}, time: bool}.
 * `time: true` means the filter takes a time predicate (exactly one TIME_KEYS key).
 */
export const FILTERS = {
  // Interaction-dependent (17).
  clicked_alias_in_campaign: { params: { campaign: req('campaign'), alias: req('string'), ...HAVE } },
  clicked_alias_in_canvas_step: { params: { canvas: req('canvas'), step: req('step'), alias: req('string'), ...HAVE } },
  clicked_opened_campaign: { params: { campaign: req('campaign'), action: req('action'), ...HAVE } },
  clicked_opened_step: { params: { canvas: req('canvas'), step: req('step'), action: req('action'), ...HAVE } },
  converted_campaign: { params: { campaign: req('campaign'), ...HAVE } },
  converted_canvas: { params: { canvas: req('canvas'), ...HAVE } },
  entered_canvas_variation: { params: { canvas: req('canvas'), variation: req('variation'), ...HAVE } },
  in_campaign_control_group: { params: { campaign: req('multivariateCampaign'), are: opt('bool', true) } },
  in_canvas_control_group: { params: { canvas: req('canvas'), are: opt('bool', true) } },
  last_received_campaign: { params: { campaign: req('campaign'), ...TIME }, time: true },
  last_received_canvas_step: { params: { canvas: req('canvas'), step: req('step'), ...TIME }, time: true },
  received_campaign_variant: { params: { campaign: req('campaign'), variant: req('variant'), ...HAVE } },
  received_campaign: { params: { campaign: req('campaign'), ...HAVE } },
  received_canvas_step: { params: { canvas: req('canvas'), step: req('step'), ...HAVE } },
  received_tagged: { params: { tag: req('tag'), ...HAVE } },
  clicked_opened_tagged: { params: { tag: req('tag'), action: req('action'), ...HAVE } },
  last_received_tagged: { params: { tag: req('tag'), ...TIME }, time: true },
  // Profile-level (18).
  clicked_alias_any: { params: { alias: req('string'), ...HAVE } },
  feature_flag: { params: { flag: req('string'), enabled: opt('bool', true) } },
  hard_bounced: { params: { is: opt('bool', true) } },
  marked_spam: { params: { is: opt('bool', true) } },
  never_received: { params: { is: opt('bool', true) } },
  invalid_phone: { params: { is: opt('bool', true) } },
  last_engaged: { params: { ...TIME }, time: true },
  last_enrolled_control_group: { params: { ...TIME }, time: true },
  last_in_app_impression: { params: { ...TIME }, time: true },
  last_received_any: { params: { ...TIME }, time: true },
  last_received_email: { params: { ...TIME }, time: true },
  last_received_push: { params: { ...TIME }, time: true },
  last_received_sms: { params: { ...TIME }, time: true },
  last_received_webhook: { params: { ...TIME }, time: true },
  last_received_whatsapp: { params: { ...TIME }, time: true },
  last_sms_inbound_keyword: {
    params: { subscription_group: req('string'), keyword_category: req('string'), ...TIME }, time: true,
  },
  last_viewed_news_feed: { params: { ...TIME }, time: true },
  news_feed_view_count: { params: { op: req('countOp'), value: req('number') } },
  // General (3).
  custom_attribute: { params: { name: req('string'), op: req('string'), value: opt('any') } },
  segment: { params: { id: req('segment'), in: opt('bool', true) } },
  random_bucket: { params: { op: req('countOp'), value: req('bucket') } },
};

/** The channel of each last_received_<channel> profile filter (any: none). */
export const LAST_RECEIVED_CHANNEL = {
  last_received_any: null,
  last_received_email: 'email',
  last_received_push: 'push',
  last_received_sms: 'sms',
  last_received_webhook: 'webhook',
  last_received_whatsapp: 'whatsapp',
};

/** The event type behind each boolean profile flag filter. */
export const PROFILE_FLAG_EVENT = {
  hard_bounced: 'hard_bounce',
  marked_spam: 'spam_report',
  invalid_phone: 'invalid_phone',
};

const STRING_OPS = ['equals', 'not_equals', 'in', 'not_in', 'matches', 'exists', 'not_exists'];
const NUMBER_OPS = ['equals', 'not_equals', 'more_than', 'less_than'];

/**
 * Checks a custom_attribute leaf against the declared attribute types and the
 * columns the data carries. Returns {type} ('string' | 'number').
 */
function checkCustomAttribute(p, catalog, where) {
  const type = catalog.attributes[p.name];
  if (type === undefined) throw new Error(`${where}: attribute '${p.name}' is not declared in the catalog`);
  if (!EVENT_COLUMNS.includes(p.name)) throw new Error(`${where}: attribute '${p.name}' has no column in events.csv`);
  if (type === 'string') {
    if (!STRING_OPS.includes(p.op)) throw new Error(`${where}: op '${p.op}' does not apply to string attribute '${p.name}' (one of ${STRING_OPS.join(', ')})`);
    if (p.op === 'in' || p.op === 'not_in') {
      if (!Array.isArray(p.value) || p.value.some((x) => typeof x !== 'string')) throw new Error(`${where}: op ${p.op} needs a list of strings`);
      if (p.value.length > 256) throw new Error(`${where}: op ${p.op} takes at most 256 values`);
    } else if (p.op === 'exists' || p.op === 'not_exists') {
      if (p.value !== undefined) throw new Error(`${where}: op ${p.op} takes no value`);
    } else if (typeof p.value !== 'string') {
      throw new Error(`${where}: op ${p.op} on string attribute '${p.name}' needs a string value`);
    }
    if (p.op === 'matches') {
      try { new RegExp(p.value); } catch (e) { throw new Error(`${where}: bad regex: ${e.message}`); }
    }
  } else if (type === 'number') {
    if (!NUMBER_OPS.includes(p.op)) throw new Error(`${where}: op '${p.op}' does not apply to number attribute '${p.name}' (one of ${NUMBER_OPS.join(', ')})`);
    if (typeof p.value !== 'number' || !Number.isFinite(p.value)) throw new Error(`${where}: op ${p.op} on number attribute '${p.name}' needs a number`);
  } else {
    throw new Error(`${where}: attribute '${p.name}' of type '${type}' is not supported by the peers (string and number only)`);
  }
  return { type };
}

/**
 * Validates one leaf `{filter: params}` and returns it normalised:
 * {filter, params (defaults filled in), time (bounds, for time filters)}.
 * Throws an error naming the filter and the segment on anything unsupported.
 */
export function normalizeLeaf(filter, rawParams, ctx, where) {
  const spec = FILTERS[filter];
  const at = `${where}: filter '${filter}'`;
  if (!spec) throw new Error(`${at}: unsupported filter (the peers know ${Object.keys(FILTERS).length} filters)`);
  if (rawParams === null) rawParams = {}; // `marked_spam:` with no parameters
  if (typeof rawParams !== 'object' || Array.isArray(rawParams)) {
    throw new Error(`${at}: parameters must be a map`);
  }
  for (const name of Object.keys(rawParams)) {
    if (!(name in spec.params)) throw new Error(`${at}: unknown parameter '${name}'`);
  }
  const params = {};
  for (const [name, p] of Object.entries(spec.params)) {
    const v = rawParams[name];
    if (v === undefined) {
      if (p.required) throw new Error(`${at}: missing parameter '${name}'`);
      if (p.default !== undefined) params[name] = p.default;
      continue;
    }
    const ok = P[p.kind].check(v, { ...ctx, params: rawParams });
    if (ok !== true) throw new Error(`${at}: parameter '${name}' ${ok}`);
    params[name] = v;
  }
  const leaf = { filter, params };
  if (spec.time) leaf.time = timeBounds(params, ctx.nowMs, at);
  if (filter === 'custom_attribute') leaf.attrType = checkCustomAttribute(params, ctx.catalog, at).type;
  return leaf;
}

// ---------------------------------------------------------------------------
// Suite and segment trees

/**
 * Loads the suite: {segments: Map id -> {id, name, match, exclude}, order: [ids]}.
 * Segment trees are validated and normalised with `normalizeSuite` (needs the catalog).
 */
export function loadSuite(file) {
  const doc = readYaml(file);
  if (!doc || !Array.isArray(doc.segments)) throw new Error(`${file}: expected a 'segments' list`);
  const segments = new Map();
  for (const s of doc.segments) {
    if (!s || typeof s.id !== 'string') throw new Error(`${file}: a segment lacks a string id`);
    if (segments.has(s.id)) throw new Error(`${file}: duplicate segment id '${s.id}'`);
    if (s.match === undefined) throw new Error(`${file}: segment '${s.id}' has no match`);
    if (s.exclude !== undefined && !Array.isArray(s.exclude)) throw new Error(`${file}: segment '${s.id}': exclude must be a list`);
    segments.set(s.id, { id: s.id, name: s.name ?? s.id, match: s.match, exclude: s.exclude ?? [] });
  }
  return { file, segments, order: [...segments.keys()] };
}

/**
 * Normalises one boolean tree node into
 *   {op: 'all'|'any', children: [...]} | {op: 'not', child} | {op: 'leaf', leaf}.
 */
export function normalizeTree(node, ctx, where) {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) throw new Error(`${where}: a node must be a one-key map`);
  const keys = Object.keys(node);
  if (keys.length !== 1) throw new Error(`${where}: a node must have exactly one key (got ${keys.join(', ') || 'none'})`);
  const [key] = keys;
  const body = node[key];
  if (key === 'all' || key === 'any') {
    if (!Array.isArray(body)) throw new Error(`${where}: '${key}' takes a list`);
    return { op: key, children: body.map((c, i) => normalizeTree(c, ctx, `${where}/${key}[${i}]`)) };
  }
  if (key === 'not') return { op: 'not', child: normalizeTree(body, ctx, `${where}/not`) };
  return { op: 'leaf', leaf: normalizeLeaf(key, body, ctx, where) };
}

/**
 * Normalises every segment of the suite: segment.tree = {match, exclude: [trees]}.
 * Also checks that nested segment references form no cycle.
 */
export function normalizeSuite(suite, catalog, nowMs) {
  const ctx = { catalog, suite, nowMs };
  for (const seg of suite.segments.values()) {
    const where = `${suite.file}: segment '${seg.id}'`;
    seg.matchTree = normalizeTree(seg.match, ctx, `${where} match`);
    seg.excludeTrees = seg.exclude.map((t, i) => normalizeTree(t, ctx, `${where} exclude[${i}]`));
  }
  for (const id of suite.order) segmentDependencies(suite, id); // throws on a cycle
  return suite;
}

/** Every leaf of a normalised tree, in order. */
export function* leaves(tree) {
  if (tree.op === 'leaf') yield tree.leaf;
  else if (tree.op === 'not') yield* leaves(tree.child);
  else for (const c of tree.children) yield* leaves(c);
}

/** Ids of the segments a segment references directly (segment filter). */
export function directSegmentRefs(seg) {
  const refs = new Set();
  for (const tree of [seg.matchTree, ...seg.excludeTrees]) {
    for (const leaf of leaves(tree)) if (leaf.filter === 'segment') refs.add(leaf.params.id);
  }
  return [...refs];
}

/**
 * The segments `id` depends on, transitively, in dependency order (a segment
 * comes after every segment it references); `id` itself is not included.
 * Throws on a cycle, naming it.
 */
export function segmentDependencies(suite, id) {
  const order = [];
  const state = new Map(); // id -> 'visiting' | 'done'
  const visit = (sid, stack) => {
    if (state.get(sid) === 'done') return;
    if (state.get(sid) === 'visiting') throw new Error(`${suite.file}: segment cycle ${[...stack, sid].join(' -> ')}`);
    state.set(sid, 'visiting');
    for (const ref of directSegmentRefs(suite.segments.get(sid))) visit(ref, [...stack, sid]);
    state.set(sid, 'done');
    order.push(sid);
  };
  visit(id, []);
  return order.slice(0, -1);
}

/** Loads everything a peer needs: manifest, catalog, normalised suite. */
export function loadBenchInputs(dataDir, suiteFile) {
  const manifest = loadManifest(dataDir);
  const catalog = loadCatalog(dataDir);
  const suite = normalizeSuite(loadSuite(suiteFile), catalog, manifest.now_ms);
  return { manifest, catalog, suite, nowMs: manifest.now_ms };
}
