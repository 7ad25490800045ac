// The fact model of the tuned SQL peers (duckdb_tuned_peer.mjs,
// clickhouse_tuned_peer.mjs): the facts table an expert's ETL builds at load,
// and the translation of segment trees into set algebra over it.
//
// facts: one row per (fact, src, uid) with t = the latest time of the events
// behind it and n = how many distinct events they are. Sorted by
// (fact, src, uid), so the rows of one leaf are one contiguous range (a few,
// for a tag: one per source carrying it).
//
//   src                     what
//   '*'                     the user's whole profile (no source)
//   'c:<campaign>'          a campaign
//   'k:<canvas>'            a Canvas (any step)
//   'ks:<canvas>␟<step>'    one step of a Canvas (␟ = U+001F, never in an id)
//   'g:<group>'             an SMS subscription group
//
//   fact                    from                                   at src
//   received                `received`                             c, k, ks, *
//   received_variant:<v>    `received` with variant v              c
//   received_channel:<ch>   `received` on channel ch               *
//   action:<a>              `interaction` with action a            c, k, ks, *
//   action:any              `interaction` with any known action    c, k, ks
//   alias:<x>               `interaction` clicked_email, alias x   c, k, ks, *
//   interaction             any `interaction`                      *
//   conv0                   primary `converted` (event 0 or none)  c, k
//   control                 `control`                              c
//   entered                 `canvas_entered`                       k
//   entered:<variation>     `canvas_entered` into variation        k
//   enrolled_control        `control`, or `canvas_entered` into a
//                           variation marked control                *
//   hard_bounce, spam_report, invalid_phone   the flag events      *
//   flag_on:<flag>          the latest `feature_flag` state of the
//                           flag is enabled (one row per user)     *
//   news_feed               `news_feed_view` (n = distinct views)  *
//   sms:<category>          `sms_inbound` of that keyword category g
//   any_event               any event: the rows are U              *
//   attr:<name>             the string custom attribute <name> of  the value
//                           the user's latest `attributes` row
//
// profiles: one row per user of U with the bucket (users.csv) and the custom
// attributes of the user's latest `attributes` row (NULL = absent); string
// attributes are also facts (above), so `equals`, `in`, `matches` and
// `exists` read the rows of a few values, and `matches` runs its regex over
// the distinct values only.
//
// The set algebra is a small tree (compileSegment): U, empty, fact (users
// with a row of one of the facts at one of the sources), timed (the latest t
// over those rows satisfies a time predicate), count (n compared with a
// value), recurring_conv, profile (a condition on a profiles column), and,
// or, andnot. Every engine renders it its own way; `now` stays a parameter of
// the rendered query (bounds relative to now carry an offset).

import { DAY_MS, EVENT_ACTIONS, TIME_KEYS, actionEvents, controlVariationPairs, dayStartMs, segmentDependencies } from './semantics.mjs';

/** The separator inside a step's source key. */
export const SEP = '\u001f';

export const src = {
  profile: '*',
  campaign: (c) => `c:${c}`,
  canvas: (k) => `k:${k}`,
  step: (k, s) => `ks:${k}${SEP}${s}`,
  group: (g) => `g:${g}`,
};

// ---------------------------------------------------------------------------
// The ETL: derivations of fact rows from the raw events

/**
 * The derivations of the facts table from a staging table `ev` (the distinct
 * raw events): [fact SQL, src SQL, WHERE] triples, rendered into one
 * UNION ALL and grouped by (fact, src, uid) by the peers. `d` gives the
 * dialect's spellings: d.str(text) a literal, d.sep the SQL of SEP.
 */
export function factDerivations(catalog, d) {
  const s = d.str;
  const cat = (...parts) => parts.join(' || ');
  const controlEntry = controlVariationPairs(catalog)
    .map(([k, v]) => `(canvas = ${s(k)} AND variation = ${s(v)})`).join(' OR ') || 'FALSE';
  const rcv = "type = 'received'";
  const act = "type = 'interaction'";
  const alias = `${act} AND action = 'clicked_email' AND alias IS NOT NULL`;
  const anyAction = `${act} AND action IN (${EVENT_ACTIONS.map(s).join(', ')})`;
  const conv = "type = 'converted' AND coalesce(conversion_event, 0) = 0";
  return [
    [s('received'), cat("'c:'", 'campaign'), `${rcv} AND campaign IS NOT NULL`],
    [s('received'), cat("'k:'", 'canvas'), `${rcv} AND canvas IS NOT NULL`],
    [s('received'), cat("'ks:'", 'canvas', d.sep, 'step'), `${rcv} AND canvas IS NOT NULL AND step IS NOT NULL`],
    [s('received'), s('*'), rcv],
    [cat("'received_variant:'", 'variant'), cat("'c:'", 'campaign'), `${rcv} AND campaign IS NOT NULL AND variant IS NOT NULL`],
    [cat("'received_channel:'", 'channel'), s('*'), `${rcv} AND channel IS NOT NULL`],
    [cat("'action:'", 'action'), cat("'c:'", 'campaign'), `${act} AND campaign IS NOT NULL`],
    [cat("'action:'", 'action'), cat("'k:'", 'canvas'), `${act} AND canvas IS NOT NULL`],
    [cat("'action:'", 'action'), cat("'ks:'", 'canvas', d.sep, 'step'), `${act} AND canvas IS NOT NULL AND step IS NOT NULL`],
    [cat("'action:'", 'action'), s('*'), `${act} AND action IS NOT NULL`],
    [s('action:any'), cat("'c:'", 'campaign'), `${anyAction} AND campaign IS NOT NULL`],
    [s('action:any'), cat("'k:'", 'canvas'), `${anyAction} AND canvas IS NOT NULL`],
    [s('action:any'), cat("'ks:'", 'canvas', d.sep, 'step'), `${anyAction} AND canvas IS NOT NULL AND step IS NOT NULL`],
    [cat("'alias:'", 'alias'), cat("'c:'", 'campaign'), `${alias} AND campaign IS NOT NULL`],
    [cat("'alias:'", 'alias'), cat("'k:'", 'canvas'), `${alias} AND canvas IS NOT NULL`],
    [cat("'alias:'", 'alias'), cat("'ks:'", 'canvas', d.sep, 'step'), `${alias} AND canvas IS NOT NULL AND step IS NOT NULL`],
    [cat("'alias:'", 'alias'), s('*'), alias],
    [s('interaction'), s('*'), act],
    [s('conv0'), cat("'c:'", 'campaign'), `${conv} AND campaign IS NOT NULL`],
    [s('conv0'), cat("'k:'", 'canvas'), `${conv} AND canvas IS NOT NULL`],
    [s('control'), cat("'c:'", 'campaign'), "type = 'control' AND campaign IS NOT NULL"],
    [s('entered'), cat("'k:'", 'canvas'), "type = 'canvas_entered' AND canvas IS NOT NULL"],
    [cat("'entered:'", 'variation'), cat("'k:'", 'canvas'), "type = 'canvas_entered' AND canvas IS NOT NULL AND variation IS NOT NULL"],
    [s('enrolled_control'), s('*'), `type = 'control' OR (type = 'canvas_entered' AND (${controlEntry}))`],
    ['type', s('*'), "type IN ('hard_bounce', 'spam_report', 'invalid_phone')"],
    [s('news_feed'), s('*'), "type = 'news_feed_view'"],
    [cat("'sms:'", 'keyword_category'), cat("'g:'", 'subscription_group'),
      "type = 'sms_inbound' AND subscription_group IS NOT NULL AND keyword_category IS NOT NULL"],
    [s('any_event'), s('*'), 'TRUE'],
  ];
}

// ---------------------------------------------------------------------------
// Set algebra

const U = { k: 'U' };
const EMPTY = { k: 'empty' };

/** Users with a row of one of `facts` at one of `srcs`. */
const fact = (facts, srcs) => ({ k: 'fact', facts: [].concat(facts), srcs: [].concat(srcs) });
const andnot = (a, b) => (b.k === 'empty' ? a : a.k === 'empty' ? EMPTY : { k: 'andnot', a, b });
const complement = (x) => andnot(U, x);
const polarity = (positive, x) => (positive ? x : complement(x));

function and(parts) {
  // all(a, not b, not c) = a ANDNOT (b OR c): complements fold into one difference.
  const pos = [];
  const neg = [];
  for (const p of parts) {
    if (p.k === 'andnot' && p.a.k === 'U') neg.push(p.b);
    else if (p.k !== 'U') pos.push(p);
  }
  if (pos.some((p) => p.k === 'empty')) return EMPTY;
  const base = pos.length === 0 ? U : pos.length === 1 ? pos[0] : { k: 'and', parts: pos };
  return neg.length ? andnot(base, or(neg)) : base;
}

function or(parts) {
  const ps = parts.filter((p) => p.k !== 'empty');
  if (ps.some((p) => p.k === 'U')) return U;
  if (ps.length === 0) return EMPTY;
  return ps.length === 1 ? ps[0] : { k: 'or', parts: ps };
}

/**
 * A time predicate as bounds where `now` stays symbolic:
 * {blank} | {lo?: Bound, loIncl, hi?: Bound, hiIncl}, Bound = {rel: true, offset}
 * (now + offset) or {rel: false, value} (an absolute ms time).
 */
export function symbolicBounds(params, where) {
  const key = TIME_KEYS.find((k) => params[k] !== undefined);
  const v = params[key];
  switch (key) {
    case 'blank': return { blank: v };
    case 'more_than_days_ago': return { hi: { rel: true, offset: -v * DAY_MS }, hiIncl: false };
    case 'less_than_days_ago': return { lo: { rel: true, offset: -v * DAY_MS }, loIncl: false, hi: { rel: true, offset: 0 }, hiIncl: true };
    case 'after': return { lo: { rel: false, value: dayStartMs(v, where) + DAY_MS }, loIncl: true };
    case 'before': return { hi: { rel: false, value: dayStartMs(v, where) }, hiIncl: false };
    default: throw new Error(`${where}: no time predicate`);
  }
}

/** Users whose latest t over the rows of (facts, srcs) satisfies the time predicate. */
function timed(facts, srcs, params, where) {
  const b = symbolicBounds(params, where);
  const f = fact(facts, srcs);
  if (b.blank !== undefined) return polarity(!b.blank, f);
  return { k: 'timed', facts: f.facts, srcs: f.srcs, bounds: b };
}

const COUNT_CMP = { equals: '=', more_than: '>', less_than: '<' };
const NEGATED_CMP = { '=': '!=', '>': '<=', '<': '>=' };
const CMP_HOLDS = { '=': (a, b) => a === b, '>': (a, b) => a > b, '<': (a, b) => a < b };

/** news_feed_view_count: n compared with value, where users without rows count 0. */
function countLeaf(op, value) {
  const cmp = COUNT_CMP[op];
  if (CMP_HOLDS[cmp](0, value)) {
    // Users with no views match: U minus the users whose count fails.
    return complement({ k: 'count', fact: 'news_feed', src: '*', cmp: NEGATED_CMP[cmp], value });
  }
  return { k: 'count', fact: 'news_feed', src: '*', cmp, value };
}

/** A condition on a profiles column: {col, op ('=', '>', '<', 'in', 'regex', 'notnull'), value, type}. */
const profile = (col, op, value, type) => ({ k: 'profile', col, op, value, type });

function customAttribute(p, type) {
  const col = p.name;
  switch (p.op) {
    case 'equals': return profile(col, '=', p.value, type);
    case 'not_equals': return complement(profile(col, '=', p.value, type)); // also users lacking it
    case 'more_than': return profile(col, '>', p.value, type);
    case 'less_than': return profile(col, '<', p.value, type);
    case 'in': return profile(col, 'in', p.value, type);
    case 'not_in': return complement(profile(col, 'in', p.value, type)); // also users lacking it
    case 'matches': return profile(col, 'regex', p.value, type);
    case 'exists': return profile(col, 'notnull', null, type);
    case 'not_exists': return complement(profile(col, 'notnull', null, type));
    default: throw new Error(`custom_attribute: unsupported op '${p.op}'`);
  }
}

/** Sources (campaigns and Canvases, any step) carrying a tag, resolved from the catalog now. */
function tagged(catalog, tag) {
  const t = catalog.tags.get(tag);
  return [...t.campaigns.map(src.campaign), ...t.canvases.map(src.canvas)];
}

/** The facts of an `action` parameter: `any` (every known action) is one fact per source. */
const actions = (action) => (action === 'any' ? ['action:any'] : actionEvents(action).map((a) => `action:${a}`));
const CHANNEL_OF = {
  last_received_email: 'email', last_received_push: 'push', last_received_sms: 'sms',
  last_received_webhook: 'webhook', last_received_whatsapp: 'whatsapp',
};

/** One leaf as set algebra. `segments` maps a compiled segment id to its algebra. */
function leaf(l, catalog, segments, where) {
  const p = l.params;
  switch (l.filter) {
    case 'clicked_alias_in_campaign': return polarity(p.have, fact(`alias:${p.alias}`, src.campaign(p.campaign)));
    case 'clicked_alias_in_canvas_step': return polarity(p.have, fact(`alias:${p.alias}`, src.step(p.canvas, p.step)));
    case 'clicked_opened_campaign': return polarity(p.have, fact(actions(p.action), src.campaign(p.campaign)));
    case 'clicked_opened_step': return polarity(p.have, fact(actions(p.action), src.step(p.canvas, p.step)));
    case 'converted_campaign': {
      const c = src.campaign(p.campaign);
      const converted = catalog.campaigns.get(p.campaign).recurring ? { k: 'recurring_conv', src: c } : fact('conv0', c);
      return polarity(p.have, andnot(converted, fact('control', c)));
    }
    case 'converted_canvas': return polarity(p.have, fact('conv0', src.canvas(p.canvas)));
    case 'entered_canvas_variation': return polarity(p.have, fact(`entered:${p.variation}`, src.canvas(p.canvas)));
    case 'in_campaign_control_group': return polarity(p.are, fact('control', src.campaign(p.campaign)));
    case 'in_canvas_control_group': {
      const k = src.canvas(p.canvas);
      const controls = [...catalog.canvases.get(p.canvas).controls].map((v) => `entered:${v}`);
      const control = controls.length ? fact(controls, k) : EMPTY;
      return p.are ? control : andnot(fact('entered', k), control); // only users who entered
    }
    case 'last_received_campaign': return timed('received', src.campaign(p.campaign), p, where);
    case 'last_received_canvas_step': return timed('received', src.step(p.canvas, p.step), p, where);
    case 'received_campaign_variant': return polarity(p.have, fact(`received_variant:${p.variant}`, src.campaign(p.campaign)));
    case 'received_campaign': return polarity(p.have, fact('received', src.campaign(p.campaign)));
    case 'received_canvas_step': return polarity(p.have, fact('received', src.step(p.canvas, p.step)));
    case 'received_tagged': return polarity(p.have, fact('received', tagged(catalog, p.tag)));
    case 'clicked_opened_tagged': return polarity(p.have, fact(actions(p.action), tagged(catalog, p.tag)));
    case 'last_received_tagged': return timed('received', tagged(catalog, p.tag), p, where);
    case 'clicked_alias_any': return polarity(p.have, fact(`alias:${p.alias}`, '*'));
    case 'feature_flag': return polarity(p.enabled, fact(`flag_on:${p.flag}`, '*')); // never set = disabled
    case 'hard_bounced': return polarity(p.is, fact('hard_bounce', '*'));
    case 'marked_spam': return polarity(p.is, fact('spam_report', '*'));
    case 'invalid_phone': return polarity(p.is, fact('invalid_phone', '*'));
    case 'never_received': return polarity(!p.is, fact('received', '*'));
    case 'last_engaged': return timed('interaction', '*', p, where);
    case 'last_enrolled_control_group': return timed('enrolled_control', '*', p, where);
    case 'last_in_app_impression': return timed('action:viewed_in_app', '*', p, where);
    case 'last_received_any': return timed('received', '*', p, where);
    case 'last_received_email':
    case 'last_received_push':
    case 'last_received_sms':
    case 'last_received_webhook':
    case 'last_received_whatsapp':
      return timed(`received_channel:${CHANNEL_OF[l.filter]}`, '*', p, where);
    case 'last_sms_inbound_keyword': return timed(`sms:${p.keyword_category}`, src.group(p.subscription_group), p, where);
    case 'last_viewed_news_feed': return timed('news_feed', '*', p, where);
    case 'news_feed_view_count': return countLeaf(p.op, p.value);
    case 'custom_attribute': return customAttribute(p, l.attrType);
    case 'segment': return polarity(p.in, segments.get(p.id));
    case 'random_bucket': return profile('bucket', COUNT_CMP[p.op], p.value, 'number');
    default: throw new Error(`${where}: no set algebra for filter '${l.filter}'`);
  }
}

function node(tree, catalog, segments, where) {
  switch (tree.op) {
    case 'all': return and(tree.children.map((c) => node(c, catalog, segments, where)));
    case 'any': return or(tree.children.map((c) => node(c, catalog, segments, where)));
    case 'not': return complement(node(tree.child, catalog, segments, where));
    case 'leaf': return leaf(tree.leaf, catalog, segments, where);
    default: throw new Error(`unknown tree node ${tree.op}`);
  }
}

/**
 * The set algebra of a segment: match ANDNOT (exclude_1 OR ...). Nested
 * segments are compiled first and shared (the same object wherever they are
 * referenced, so an engine can compute each once per query).
 */
export function compileSegment(suite, catalog, id) {
  const segments = new Map();
  for (const sid of [...segmentDependencies(suite, id), id]) {
    const seg = suite.segments.get(sid);
    const where = `segment '${sid}'`;
    const match = node(seg.matchTree, catalog, segments, where);
    const excluded = or(seg.excludeTrees.map((t) => node(t, catalog, segments, where)));
    const algebra = andnot(match, excluded);
    segments.set(sid, { ...algebra, segment: sid });
  }
  return segments.get(id);
}

/**
 * Replaces facts and sources that the loaded facts table does not hold
 * (they select no row) so that the engines never name an unknown dictionary
 * value; `known` = {facts: Set, srcs: Set}.
 */
export function prune(x, known, memo = new Map()) {
  if (memo.has(x)) return memo.get(x);
  let out;
  switch (x.k) {
    case 'fact':
    case 'timed': {
      const facts = x.facts.filter((f) => known.facts.has(f));
      const srcs = x.srcs.filter((s) => known.srcs.has(s));
      out = facts.length && srcs.length ? { ...x, facts, srcs } : EMPTY;
      break;
    }
    case 'count': out = known.facts.has(x.fact) && known.srcs.has(x.src) ? x : EMPTY; break;
    case 'recurring_conv':
      out = known.srcs.has(x.src) && known.facts.has('conv0') ? x : EMPTY;
      break;
    case 'and': out = and(x.parts.map((p) => prune(p, known, memo))); break;
    case 'or': out = or(x.parts.map((p) => prune(p, known, memo))); break;
    case 'andnot': out = andnot(prune(x.a, known, memo), prune(x.b, known, memo)); break;
    default: out = x; // U, empty, profile
  }
  if (x.segment && out !== x) out = { ...out, segment: x.segment };
  memo.set(x, out);
  return out;
}
