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
 * candidate: { name, run(ops), setup?(), teardown?(), peer? }
 *   run(ops) performs `ops` operations (what an "op" is, the group says).
 * options: { ops, rounds, warmup, baseline, unit, note }
 *   baseline: the candidate name every ratio is taken against.
 * Returns { title, unit, ops, rounds, baseline, rows: [{ name, median, p25, p75,
 *   spread, ratio, peer }] } with `median` in ns per op and `ratio` = how many
 *   times faster than the baseline (> 1 is faster).
 */
export async function compare(title, candidates, options = {}) {
  const ops = QUICK ? Math.max(1, Math.floor((options.ops ?? 100_000) / 100)) : (options.ops ?? 100_000);
  const rounds = QUICK ? 3 : (options.rounds ?? 15);
  const warmup = QUICK ? 1 : (options.warmup ?? 3);
  const baseline = options.baseline ?? candidates[0].name;
  const samples = new Map(candidates.map((c) => [c.name, []]));
  for (const c of candidates) await c.setup?.();
  for (let r = 0; r < warmup + rounds; r++) {
    // Rotate the order each round so no candidate always runs first.
    for (let k = 0; k < candidates.length; k++) {
      const c = candidates[(k + r) % candidates.length];
      const t0 = now();
      await c.run(ops);
      const dt = Number(now() - t0);
      if (r >= warmup) samples.get(c.name).push(dt / ops);
    }
    progress(`${title}: round ${r + 1}/${warmup + rounds}`);
  }
  for (const c of candidates) await c.teardown?.();
  const rows = candidates.map((c) => {
    const s = samples.get(c.name).sort((a, b) => a - b);
    const med = median(s);
    const p25 = quantile(s, 0.25);
    const p75 = quantile(s, 0.75);
    return { name: c.name, peer: c.peer ?? false, median: med, p25, p75, spread: med > 0 ? (p75 - p25) / med : 0 };
  });
  const base = rows.find((r) => r.name === baseline);
  if (!base) throw new Error(`${title}: no baseline candidate named ${baseline}`);
  for (const row of rows) row.ratio = row.median > 0 ? base.median / row.median : Infinity;
  progress('');
  return { title, unit: options.unit ?? 'ns/op', ops, rounds, baseline, note: options.note ?? '', rows };
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

/** Formats a result group as a Markdown table. */
export function toMarkdown(group) {
  const out = [`### ${group.title}`, ''];
  if (group.note) out.push(group.note, '');
  out.push(`| candidate | ${group.unit} (median) | spread (IQR) | vs ${group.baseline} |`, '| --- | ---: | ---: | ---: |');
  for (const r of group.rows) {
    out.push(`| ${r.name} | ${fmt(r.median)} | ±${(r.spread * 50).toFixed(1)}% | ${r.ratio.toFixed(2)}x |`);
  }
  out.push('', `${group.rounds} interleaved rounds of ${group.ops} ops each; ratio > 1 means faster than ${group.baseline}.`, '');
  return out.join('\n');
}

function fmt(ns) {
  return ns >= 100 ? ns.toFixed(0) : ns >= 10 ? ns.toFixed(1) : ns.toFixed(2);
}
