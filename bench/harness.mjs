// The benchmark harness every suite uses: candidates measured in interleaved
// rounds (so machine noise hits all of them alike), a median per candidate
// with its spread, and ratios against a baseline measured in the same run.

/** Quick mode (CI smoke run): checks the harness and workloads, not the numbers. */
export const QUICK = process.argv.includes('--quick') || process.env.OFFHEAP_BENCH_QUICK === '1';

const now = () => process.hrtime.bigint();

function median(sorted) {
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

function quantile(sorted, q) {
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
}

/**
 * Compares candidates on one workload.
 *
 * candidate: { name, run(ops), setup?(), teardown?(), peer?, unavailable? }
 *   run(ops) performs `ops` operations (what an "op" is, the group says).
 *   unavailable: a reason string; the candidate is not run but keeps its row
 *   (e.g. "offheap ArenaScope not available in this build"), so no row is hidden.
 * options: { ops, rounds, warmup, baseline, unit, note, target }
 *   baseline: the candidate name every ratio is taken against.
 *   target: one or an array of { candidate, vs?, atLeast?, atMost?, label? }
 *     (see evaluateTargets); the report says "met" or "not met" for each.
 * Returns { title, unit, ops, rounds, baseline, note, better, rows: [{ name, median,
 *   p25, p75, spread, ratio, peer }], targets } with `median` in ns per op and
 *   `ratio` = how many times faster than the baseline (> 1 is faster).
 */
export async function compare(title, candidates, options = {}) {
  const ops = QUICK ? Math.max(1, Math.floor((options.ops ?? 100_000) / 100)) : (options.ops ?? 100_000);
  const rounds = QUICK ? 3 : (options.rounds ?? 15);
  const warmup = QUICK ? 1 : (options.warmup ?? 3);
  const baseline = options.baseline ?? candidates[0].name;
  const started = Date.now();
  const live = candidates.filter((c) => !c.unavailable);
  const samples = new Map(live.map((c) => [c.name, []]));
  for (const c of live) await c.setup?.();
  for (let r = 0; r < warmup + rounds; r++) {
    // Rotate the order each round so no candidate always runs first.
    for (let k = 0; k < live.length; k++) {
      const c = live[(k + r) % live.length];
      const t0 = now();
      await c.run(ops);
      const dt = Number(now() - t0);
      if (r >= warmup) samples.get(c.name).push(dt / ops);
    }
    progress(`${title}: round ${r + 1}/${warmup + rounds}`);
  }
  for (const c of live) await c.teardown?.();
  const group = makeGroup(
    title,
    candidates.map((c) => ({ name: c.name, peer: c.peer, unavailable: c.unavailable, samples: samples.get(c.name) })),
    { ...options, ops, rounds, baseline },
  );
  done(`${title} (${rounds} rounds x ${ops} ops, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return group;
}

/**
 * Builds a result group of the same shape as compare()'s from samples measured
 * elsewhere (child processes, callgrind, a load generator).
 *
 * entries: [{ name, samples: number[], peer?, unavailable?, extra? }]
 *   samples: one figure per round, in `unit`; extra: { column: value } shown as
 *   extra columns (already reduced, e.g. medians).
 * options: { unit, ops, rounds, baseline, note, better = 'lower', target }
 *   better: 'lower' for times and counts, 'higher' for throughput; `ratio` is
 *   always "times better than the baseline" (> 1 is better).
 */
export function makeGroup(title, entries, options = {}) {
  const better = options.better ?? 'lower';
  const baseline = options.baseline ?? entries.find((e) => !e.unavailable)?.name;
  const rows = entries.map((e) => {
    if (e.unavailable || !e.samples?.length) {
      return { name: e.name, peer: e.peer ?? false, unavailable: e.unavailable || 'not measured', median: null, p25: null, p75: null, spread: null, ratio: null };
    }
    const s = [...e.samples].sort((a, b) => a - b);
    const med = median(s);
    const p25 = quantile(s, 0.25);
    const p75 = quantile(s, 0.75);
    const row = { name: e.name, peer: e.peer ?? false, median: med, p25, p75, spread: med > 0 ? (p75 - p25) / med : 0 };
    if (e.extra) row.extra = e.extra;
    return row;
  });
  const base = rows.find((r) => r.name === baseline);
  if (!base || base.median === null) throw new Error(`${title}: no measured baseline candidate named ${baseline}`);
  for (const row of rows) if (row.median !== null) row.ratio = ratioOf(row.median, base.median, better);
  const group = {
    title,
    unit: options.unit ?? 'ns/op',
    ops: options.ops ?? null,
    rounds: options.rounds ?? Math.max(0, ...entries.map((e) => e.samples?.length ?? 0)),
    baseline,
    note: options.note ?? '',
    better,
    rows,
  };
  group.targets = evaluateTargets(group, options.target);
  return group;
}

/** How many times better `value` is than `reference` (> 1 is better). */
function ratioOf(value, reference, better) {
  if (better === 'higher') return reference > 0 ? value / reference : Infinity;
  return value > 0 ? reference / value : Infinity;
}

/**
 * Checks a group's targets. A target is { candidate, vs, atLeast?, atMost?, label? }:
 * with `vs`, the bound applies to how many times better `candidate` is than `vs`
 * (e.g. atLeast: 1.5 = at least 1.5x faster); without `vs`, it applies to the
 * candidate's own median in the group's unit (e.g. atMost: 15 instructions).
 * Each comes back with `value` and status "met", "MISSED" (printed "not met") or "not measured"
 * (a row is missing or unavailable: never counted as met).
 */
export function evaluateTargets(group, target) {
  const list = target ? (Array.isArray(target) ? target : [target]) : [];
  return list.map((t) => {
    const out = { ...t, label: t.label ?? describeTarget(t, group.unit) };
    const cand = group.rows.find((r) => r.name === t.candidate);
    const vs = t.vs === undefined ? null : group.rows.find((r) => r.name === t.vs);
    if (!cand || cand.median === null || (t.vs !== undefined && (!vs || vs.median === null))) {
      const missing = !cand || cand.median === null ? t.candidate : t.vs;
      const why = group.rows.find((r) => r.name === missing)?.unavailable;
      return { ...out, value: null, status: 'not measured', reason: `${missing}: ${why ?? 'no such row in this run'}` };
    }
    const value = vs ? ratioOf(cand.median, vs.median, group.better) : cand.median;
    const ok = (t.atLeast === undefined || value >= t.atLeast) && (t.atMost === undefined || value <= t.atMost);
    return { ...out, value, status: ok ? 'met' : 'MISSED' };
  });
}

function describeTarget(t, unit) {
  const bound = [t.atLeast !== undefined && `>= ${t.atLeast}`, t.atMost !== undefined && `<= ${t.atMost}`].filter(Boolean).join(' and ');
  return t.vs !== undefined ? `${t.candidate} vs ${t.vs}: ${bound}x` : `${t.candidate}: ${bound} ${unit}`;
}

/** A value sink, so the JIT cannot drop the work whose result nobody reads. */
export let sink = 0;
export function consume(v) {
  sink = (sink + (typeof v === 'number' ? v : v ? 1 : 0)) | 0;
}

/** One line of progress on a terminal, nothing when piped. */
export function progress(line) {
  if (!process.stderr.isTTY) return;
  process.stderr.write(`\r\x1b[K${line}`);
}

/** A finished step: replaces the progress line on a terminal, one plain line when piped. */
export function done(line) {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  process.stderr.write(`  done: ${line}\n`);
}

/** Formats a result group as a Markdown table (every row, extra columns, targets). */
export function toMarkdown(group) {
  const out = [`### ${group.title}`, ''];
  if (group.note) out.push(group.note, '');
  const extras = [...new Set(group.rows.flatMap((r) => Object.keys(r.extra ?? {})))];
  const word = group.better === 'higher' ? 'better' : 'faster';
  out.push(
    `| candidate | ${group.unit} (median) | spread (IQR) | vs ${group.baseline} |${extras.map((e) => ` ${e} |`).join('')}`,
    `| --- | ---: | ---: | ---: |${extras.map(() => ' ---: |').join('')}`,
  );
  for (const r of group.rows) {
    const cells = r.median === null
      ? [`not available: ${r.unavailable}`, '', '']
      : [fmt(r.median), `±${(r.spread * 50).toFixed(1)}%`, `${fmtRatio(r.ratio)}x`];
    const ex = extras.map((e) => ` ${r.extra?.[e] === undefined ? '' : fmtCell(r.extra[e])} |`).join('');
    out.push(`| ${r.peer ? r.name : `**${r.name}**`} | ${cells.join(' | ')} |${ex}`);
  }
  const how = group.ops ? `${group.rounds} interleaved rounds of ${group.ops} ops each` : `${group.rounds} interleaved rounds`;
  out.push('', `${how}; ratio > 1 means ${word} than ${group.baseline}; spread is half the interquartile range over the median.`, '');
  for (const t of group.targets ?? []) out.push(`- target ${t.label}: **${t.status === 'MISSED' ? 'not met' : t.status}**${targetDetail(t, group.unit)}`);
  if (group.targets?.length) out.push('');
  return out.join('\n');
}

/** The measured value or the reason, after a target's status. */
export function targetDetail(t, unit) {
  if (t.value === null) return ` (${t.reason})`;
  return t.vs !== undefined ? ` (measured ${fmtRatio(t.value)}x)` : ` (measured ${fmt(t.value)} ${unit})`;
}

export function fmtRatio(r) {
  if (!Number.isFinite(r)) return String(r);
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

function fmtCell(v) {
  return typeof v === 'number' ? fmt(v) : String(v);
}

export function fmt(ns) {
  if (!Number.isFinite(ns)) return String(ns);
  const a = Math.abs(ns);
  return a >= 100 ? ns.toFixed(0) : a >= 10 ? ns.toFixed(1) : ns.toFixed(2);
}
