// Puts the latest report (bench/results/latest.json) into README.md between
// <!-- bench:start --> and <!-- bench:end -->: machine, date, command, one
// table row per workload (every candidate in it, none dropped), every target
// with "met" / "not met" / "not measured", and the charts.
//   node bench/readme.mjs [report.json] [README.md]
// `npm run bench` calls it after a full run.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { finite, fmt, targetDetail } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const START = '<!-- bench:start -->';
export const END = '<!-- bench:end -->';

/** The Markdown that goes between the markers. Never throws on a report's figures. */
export function readmeSection(report, chartPath) {
  const m = report?.machine ?? {};
  const suites = Array.isArray(report?.suites) ? report.suites : [];
  const out = [
    `Measured ${String(report?.date ?? 'at an unrecorded date').slice(0, 10)} on ${m.cpu ?? 'an unrecorded CPU'} (${m.cores ?? '?'} cores, ${m.memGiB ?? '?'} GiB), Node ${m.node ?? '?'}, ${m.platform ?? '?'},`,
    `with \`${report?.command ?? 'npm run bench'}\` (${fmtMinutes(report?.seconds)}${Array.isArray(m.load) ? `, load average at start ${m.load.join(' ')}` : ''}).`,
  ];
  // First the real-work tables the suites summarise (servers under load).
  const summaries = suites.flatMap((s) => (Array.isArray(s?.summary) ? s.summary : []));
  for (const t of summaries) out.push('', ...summaryTable(t));
  out.push(
    '',
    'The microbenchmarks (each allocator against its peers, as medians over interleaved rounds, with the ratio to',
    'the group\'s baseline in the same run) are tabled in full in [bench/results/latest.md](bench/results/latest.md);',
    'the front page keeps the targets they check.',
  );
  // Suites that failed or were skipped are named here, so a broken run never looks complete.
  const broken = suites.flatMap((s) => [
    ...(s?.error ? [`| ${s.name} | suite failed: ${cell(s.error)} | | |`] : []),
    ...(s?.skipped ? [`| ${s.name} | skipped: ${cell(s.skipped)} | | |`] : []),
  ]);
  if (broken.length) out.push('', '| suite | what happened | | |', '| --- | --- | --- | --- |', ...broken);
  const targets = [];
  for (const s of suites) {
    for (const g of Array.isArray(s?.groups) ? s.groups : []) {
      for (const t of Array.isArray(g?.targets) ? g.targets : []) targets.push(`- ${t.status}: ${t.label}${targetDetail(t, g.unit)}`);
    }
  }
  if (targets.length) out.push('', 'Targets, checked in this run:', '', ...targets);
  out.push('', `![ratios against each group's baseline, log scale](${chartPath})`);
  if (hasLatency(report)) out.push('', `![latency by percentile, log scale](${latencyChartPath(chartPath)})`);
  return out.join('\n');
}

/** Where the latency chart of a report goes, next to its ratio chart. */
export function latencyChartPath(chartPath) {
  return String(chartPath).replace(/\.svg$/, '') + '-latency.svg';
}

export function hasLatency(report) {
  return (Array.isArray(report?.suites) ? report.suites : []).some((s) => (Array.isArray(s?.groups) ? s.groups : []).some((g) => g?.latency));
}

/** A suite's summary table ({ title, note?, columns, rows: [[cell...]] }) as Markdown. */
export function summaryTable(t) {
  const columns = Array.isArray(t?.columns) ? t.columns : [];
  const rows = Array.isArray(t?.rows) ? t.rows : [];
  const out = [`**${t?.title ?? 'summary'}**${t?.note ? ` ${t.note}` : ''}`, ''];
  out.push(`| ${columns.map(cell).join(' | ')} |`, `| ${columns.map((_, i) => (i ? '---:' : '---')).join(' | ')} |`);
  for (const r of rows) out.push(`| ${(Array.isArray(r) ? r : [r]).map((v) => (typeof v === 'number' ? fmt(v) : cell(v))).join(' | ')} |`);
  return out;
}

const cell = (v) => (v === null || v === undefined ? 'n/a' : String(v).replace(/\|/g, '\\|').replace(/\n/g, ' '));

/** Replaces the text between the markers of `readme` (text) with `section`. */
export function spliceReadme(readme, section) {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${START} ... ${END} markers`);
  return `${readme.slice(0, a + START.length)}\n${section}\n${readme.slice(b)}`;
}

function fmtMinutes(seconds) {
  if (finite(seconds) === null || seconds <= 0) return 'duration not recorded';
  return seconds < 120 ? `${Math.round(seconds)} s` : `${(seconds / 60).toFixed(1)} min`;
}

/** Updates README.md from a report file; returns the README path. */
export function updateReadme(reportPath = join(here, 'results/latest.json'), readmePath = join(here, '../README.md')) {
  const report = JSON.parse(readFileSync(reportPath, 'utf8'));
  const chart = relative(dirname(readmePath), reportPath.replace(/\.json$/, '.svg'));
  writeFileSync(readmePath, spliceReadme(readFileSync(readmePath, 'utf8'), readmeSection(report, chart)));
  return readmePath;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const path = updateReadme(process.argv[2], process.argv[3]);
  console.error(`updated ${path}`);
}
