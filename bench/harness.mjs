// The benchmark harness every suite uses: candidates measured in interleaved
// rounds (so machine noise hits all of them alike), a median per candidate
// with its spread, and ratios against a baseline measured in the same run.

import { fileURLToPath } from 'node:url';

/** Quick mode (CI smoke run): checks the harness and workloads, not the numbers. */
export const QUICK = process.argv.includes('--quick') || process.env.OFFHEAP_BENCH_QUICK === '1';

/** Where the suites are: bench/suites, or OFFHEAP_BENCH_SUITES (the harness's own tests). */
export function suitesDir() {
  return process.env.OFFHEAP_BENCH_SUITES || fileURLToPath(new URL('./suites/', import.meta.url));
}

const now = () => process.hrtime.bigint();

function median(sorted) {
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

/** The median of unsorted numbers (null for none); xs is not changed. */
export function medianOf(xs) {
  return xs.length ? median([...xs].sort((a, b) => a - b)) : null;
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
 * candidate: { name, run(ops), setup?(), teardown?(), peer?, unavailable?, ops? }
 *   run(ops) performs `ops` operations (what an "op" is, the group says).
 *   ops: this candidate's operations per timed run when it is far slower
 *   than the rest (its figure is per op all the same; the note says so).
 *   unavailable: a reason string; the candidate is not run but keeps its row
 *   (e.g. "offheap ArenaScope not available in this build"), so no row is hidden.
 * options: { ops, rounds, warmup, baseline, unit, note, target, settle }
 *   baseline: the candidate name every ratio is taken against.
 *   settle: a full GC (global.gc(), the suites run with --expose-gc) before
 *     every timed run, for groups that mix candidates that allocate JS
 *     objects with ones that do not: V8's incremental marking advances as
 *     JavaScript allocates, so the work a candidate leaves pending was paid
 *     by the next candidate that allocates (in the per-request scratch
 *     group, whichever view candidate followed the two handle peers ran
 *     1.4x to 1.6x slower than in any other place). What a candidate leaves
 *     uncollected is then collected untimed, which favours the candidates
 *     that make the most garbage (the Buffer peers).
 *   target: one or an array of { candidate, vs?, atLeast?, atMost?, label? }
 *     (see evaluateTargets); the report says "met", "not met" or "not measured" for each.
 * Returns { title, unit, ops, rounds, baseline, note, better, rows: [{ name, median,
 *   p25, p75, spread, ratio, peer }], targets } with `median` in ns per op and
 *   `ratio` = how many times faster than the baseline (> 1 is faster).
 */
export async function compare(title, candidates, options = {}) {
  const scaled = (n) => (QUICK ? Math.max(1, Math.floor(n / 100)) : n);
  const ops = scaled(options.ops ?? 100_000);
  const opsOf = (c) => (c.ops === undefined ? ops : scaled(c.ops));
  const rounds = QUICK ? 3 : (options.rounds ?? 15);
  const warmup = QUICK ? 1 : (options.warmup ?? 3);
  const baseline = options.baseline ?? candidates[0].name;
  const started = Date.now();
  const live = candidates.filter((c) => !c.unavailable);
  const samples = new Map(live.map((c) => [c.name, []]));
  // A candidate that throws keeps its row with the error; the others go on.
  const failed = new Map();
  const attempt = async (c, fn) => {
    try {
      await fn();
    } catch (e) {
      failed.set(c.name, `failed: ${String(e?.message ?? e).split('\n')[0]}`);
    }
  };
  for (const c of live) await attempt(c, () => c.setup?.());
  for (let r = 0; r < warmup + rounds; r++) {
    // Rotate the order each round so no candidate always runs first.
    for (let k = 0; k < live.length; k++) {
      const c = live[(k + r) % live.length];
      if (failed.has(c.name)) continue;
      await attempt(c, async () => {
        if (options.settle) globalThis.gc?.();
        const n = opsOf(c);
        const t0 = now();
        await c.run(n);
        const dt = Number(now() - t0);
        if (r >= warmup) samples.get(c.name).push(dt / n);
      });
    }
    progress(`${title}: round ${r + 1}/${warmup + rounds}`);
  }
  for (const c of live) await attempt(c, () => c.teardown?.());
  const own = live.filter((c) => opsOf(c) !== ops).map((c) => `${c.name}: ${opsOf(c)} ops per round`);
  const note = own.length ? [options.note, `Fewer ops for the slowest (figures per op all the same): ${own.join('; ')}.`].filter(Boolean).join(' ') : options.note;
  const group = makeGroup(
    title,
    candidates.map((c) => ({ name: c.name, peer: c.peer, unavailable: c.unavailable ?? failed.get(c.name), samples: samples.get(c.name) })),
    { ...options, note, ops, rounds, baseline },
  );
  done(`${title} (${rounds} rounds x ${ops} ops, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return group;
}

/** A figure a report can hold: a finite number, else null (JSON has no NaN or Infinity). */
export function finite(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * Builds a result group of the same shape as compare()'s from samples measured
 * elsewhere (child processes, callgrind, a load generator).
 *
 * entries: [{ name, samples: number[], peer?, unavailable?, extra? }]
 *   samples: one figure per round, in `unit` (non-finite samples are dropped:
 *   a row with none left is "not measured"); extra: { column: value } shown as
 *   extra columns (already reduced, e.g. medians; numbers, strings or null).
 * options: { unit, ops, rounds, baseline, note, better = 'lower', target, resolution }
 *   better: 'lower' for times and counts, 'higher' for throughput; `ratio` is
 *   always "times better than the baseline" (> 1 is better).
 *   resolution: the smallest figure the measuring tool resolves, in `unit`; a
 *   median below it is shown as "< resolution", never as 0.
 * A ratio that cannot be formed (a row or the baseline not measured, below the
 * resolution, or 0) is null, with `ratioNote` saying why. Never throws on a
 * figure: every value a suite can produce gives a group the report can show.
 */
export function makeGroup(title, entries, options = {}) {
  const better = options.better ?? 'lower';
  const unit = options.unit ?? 'ns/op';
  const resolution = finite(options.resolution);
  const list = Array.isArray(entries) ? entries : [];
  const baseline = options.baseline ?? list.find((e) => !e.unavailable)?.name ?? list[0]?.name ?? null;
  const rows = list.map((e) => {
    const name = String(e?.name ?? 'unnamed');
    const peer = e?.peer ?? false;
    const samples = Array.isArray(e?.samples) ? e.samples.filter((v) => finite(v) !== null) : [];
    const extra = e?.extra ? sanitizeExtra(e.extra) : undefined;
    if (e?.unavailable || samples.length === 0) {
      const why = e?.unavailable || (Array.isArray(e?.samples) && e.samples.length ? 'no finite figure measured' : 'not measured');
      return { name, peer, unavailable: String(why), median: null, p25: null, p75: null, spread: null, ratio: null, ...(extra ? { extra } : {}) };
    }
    const s = [...samples].sort((a, b) => a - b);
    const med = median(s);
    const p25 = quantile(s, 0.25);
    const p75 = quantile(s, 0.75);
    const row = { name, peer, median: med, p25, p75, spread: med > 0 ? (p75 - p25) / med : null, ratio: null };
    if (resolution !== null && med < resolution) row.below = resolution;
    if (extra) row.extra = extra;
    return row;
  });
  const base = rows.find((r) => r.name === baseline);
  for (const row of rows) {
    if (row.median === null) continue;
    const { ratio, note } = ratioOf(row, base, { better, unit, baseline });
    row.ratio = ratio;
    if (note) row.ratioNote = note;
  }
  const group = {
    title: String(title),
    unit,
    ops: options.ops ?? null,
    rounds: options.rounds ?? Math.max(0, ...list.map((e) => (Array.isArray(e?.samples) ? e.samples.length : 0))),
    baseline,
    note: options.note ?? '',
    better,
    resolution,
    rows,
  };
  if (options.latency) group.latency = options.latency;
  group.targets = evaluateTargets(group, options.target);
  return group;
}

function sanitizeExtra(extra) {
  const out = {};
  for (const [k, v] of Object.entries(extra)) out[k] = typeof v === 'number' ? finite(v) : v === undefined ? null : v;
  return out;
}

/**
 * How many times better `row` is than `base` (> 1 is better), or null with the
 * reason when no ratio can be formed.
 */
function ratioOf(row, base, { better, unit, baseline }) {
  if (!base) return { ratio: null, note: `no baseline row named ${baseline}` };
  if (base.median === null) return { ratio: null, note: `baseline ${base.name} not measured (${base.unavailable})` };
  if (row === base) return { ratio: 1 };
  const res = (r) => `${r.name} is below the ${short(r.below)} ${unit} resolution`;
  if (row.below !== undefined || base.below !== undefined) {
    return { ratio: null, note: [row, base].filter((r) => r.below !== undefined).map(res).join('; ') };
  }
  const [v, ref] = [row.median, base.median];
  if (v === 0 || ref === 0) return { ratio: null, note: `${v === 0 ? row.name : base.name} measured 0 ${unit}` };
  const ratio = better === 'higher' ? v / ref : ref / v;
  return Number.isFinite(ratio) && ratio > 0 ? { ratio } : { ratio: null, note: 'the figures give no finite positive ratio' };
}

/**
 * Checks a group's targets. A target is { candidate, vs, atLeast?, atMost?, above?, label?, why? }:
 * with `vs`, the bound applies to how many times better `candidate` is than `vs`
 * (e.g. atLeast: 1.5 = at least 1.5x faster); without `vs`, it applies to the
 * candidate's own median in the group's unit (e.g. atMost: 15 instructions).
 * `why`: what the suite knows about a miss (said only when the target is not met).
 * Each comes back with `value` and status "met", "not met" or "not measured"
 * (a row is missing, unavailable or below resolution: never counted as met).
 */
export function evaluateTargets(group, target) {
  const list = target ? (Array.isArray(target) ? target : [target]) : [];
  return list.map((t) => {
    const out = { ...t, label: t.label ?? describeTarget(t, group) };
    const cand = group.rows.find((r) => r.name === t.candidate);
    const vs = t.vs === undefined ? null : group.rows.find((r) => r.name === t.vs);
    const notMeasured = (reason) => ({ ...out, value: null, status: 'not measured', reason });
    if (!cand) return notMeasured(`${t.candidate}: no such row in this run`);
    if (cand.median === null) return notMeasured(`${t.candidate}: ${cand.unavailable}`);
    if (t.vs !== undefined && !vs) return notMeasured(`${t.vs}: no such row in this run`);
    if (vs && vs.median === null) return notMeasured(`${t.vs}: ${vs.unavailable}`);
    let value;
    if (vs) {
      const r = ratioOf(cand, vs, { better: group.better, unit: group.unit, baseline: vs.name });
      if (r.ratio === null) return notMeasured(r.note);
      value = r.ratio;
    } else {
      if (cand.below !== undefined) return notMeasured(`${cand.name} is below the ${short(cand.below)} ${group.unit} resolution`);
      value = cand.median;
    }
    const ok = (t.atLeast === undefined || value >= t.atLeast) && (t.atMost === undefined || value <= t.atMost) && (t.above === undefined || value > t.above);
    return { ...out, value, status: ok ? 'met' : 'not met' };
  });
}

function describeTarget(t, group) {
  if (t.vs !== undefined) {
    const bound = [t.atLeast !== undefined && `at least ${t.atLeast}x`, t.atMost !== undefined && `at most ${t.atMost}x`, t.above !== undefined && `more than ${t.above}x`].filter(Boolean).join(' and ');
    return `${t.candidate} ${bound} better than ${t.vs} (${group.unit}, ${group.better} is better)`;
  }
  const bound = [t.atLeast !== undefined && `at least ${t.atLeast}`, t.atMost !== undefined && `at most ${t.atMost}`].filter(Boolean).join(' and ');
  return `${t.candidate}: ${bound} ${group.unit}`;
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
  const out = [`### ${group?.title ?? 'untitled group'}`, ''];
  if (group?.note) out.push(group.note, '');
  const rows = Array.isArray(group?.rows) ? group.rows : [];
  const extras = [...new Set(rows.flatMap((r) => Object.keys(r?.extra ?? {})))];
  out.push(
    `| candidate | ${group?.unit ?? ''} (median) | spread (IQR) | vs ${group?.baseline ?? 'baseline'} |${extras.map((e) => ` ${e} |`).join('')}`,
    `| --- | ---: | ---: | ---: |${extras.map(() => ' ---: |').join('')}`,
  );
  for (const r of rows) {
    const cells = finite(r?.median) === null
      ? [`not available: ${r?.unavailable ?? 'not measured'}`, '', '']
      : [figure(r), finite(r.spread) === null ? 'n/a' : `±${(r.spread * 50).toFixed(1)}%`, ratioCell(r)];
    const ex = extras.map((e) => ` ${fmtCell(r?.extra?.[e])} |`).join('');
    out.push(`| ${r?.peer ? r?.name : `**${r?.name}**`} | ${cells.join(' | ')} |${ex}`);
  }
  const how = group?.ops ? `${group.rounds} interleaved rounds of ${group.ops} ops each` : `${group?.rounds ?? 0} interleaved rounds`;
  out.push('', `${how}; ratio > 1 means better than ${group?.baseline} (${group?.better === 'higher' ? 'higher' : 'lower'} is better); spread is half the interquartile range over the median.`, '');
  const targets = Array.isArray(group?.targets) ? group.targets : [];
  for (const t of targets) out.push(`- target: ${t.label}: ${t.status}${targetDetail(t, group.unit)}`);
  if (targets.length) out.push('');
  return out.join('\n');
}

/** A row's median as shown: "< resolution" below the tool's resolution, "n/a" when not measured. */
export function figure(row) {
  if (finite(row?.below) !== null) return `< ${short(row.below)}`;
  return fmt(row?.median);
}

/** A row's ratio as shown: "1.23x", or "n/a (why)". */
export function ratioCell(row) {
  if (finite(row?.ratio) !== null) return `${fmtRatio(row.ratio)}x`;
  return `n/a (${row?.ratioNote ?? row?.unavailable ?? 'not measured'})`;
}

/** The measured value or the reason, after a target's status. */
export function targetDetail(t, unit) {
  if (finite(t?.value) === null) return ` (${t?.reason ?? 'not measured'})`;
  const measured = t.vs !== undefined ? `measured ${fmtRatio(t.value)}x` : `measured ${fmt(t.value)} ${unit}`;
  return ` (${measured}${t.status !== 'met' && t.why ? `; ${t.why}` : ''})`;
}

/** A ratio: 3 significant-ish digits, "n/a" for anything that is not a finite number. */
export function fmtRatio(r) {
  if (finite(r) === null) return 'n/a';
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

function fmtCell(v) {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return fmt(v);
  return String(v);
}

/** A figure: 3 significant-ish digits, "n/a" for anything that is not a finite number. */
export function fmt(ns) {
  if (finite(ns) === null) return 'n/a';
  const a = Math.abs(ns);
  return a >= 100 ? ns.toFixed(0) : a >= 10 ? ns.toFixed(1) : ns.toFixed(2);
}

/** A resolution or bound as written: 1, 0.5, 1000 (no trailing zeros). */
export function short(v) {
  return finite(v) === null ? 'n/a' : String(Number(v.toPrecision(3)));
}
