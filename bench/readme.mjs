// Puts the headline of the latest report (bench/results/latest.json) into
// README.md between <!-- bench:start --> and <!-- bench:end -->: machine,
// date, command, one table row per workload of the real-workload suites
// (every candidate in it, none dropped), their targets, and a link to the
// full report.
//   node bench/readme.mjs [report.json] [README.md]
// `npm run bench` calls it after a full run.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, fmtRatio, targetDetail } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const START = '<!-- bench:start -->';
export const END = '<!-- bench:end -->';

/** Suites of whole workloads (servers, long-lived records), shown in the README; the rest is in latest.md. */
export const HEADLINE_SUITES = ['sessions', 'server', 'records'];

/** How a target's status reads to a user. */
function statusWord(t) {
  return t.status === 'met' ? 'met' : t.status === 'MISSED' ? '**not met**' : `**${t.status}**`;
}

/** The Markdown that goes between the markers. */
export function readmeSection(report, chartPath) {
  const m = report.machine;
  const out = [
    `Measured ${report.date.slice(0, 10)} on ${m.cpu} (${m.cores} cores, ${m.memGiB} GiB), Node ${m.node}, ${m.platform},`,
    `with \`${report.command}\` (${fmtMinutes(report.seconds)}${m.load ? `, load average at start ${m.load.join(' ')}` : ''}). Every figure is a median over interleaved rounds;`,
    'the ratio is how many times better than the group\'s baseline in the same run (> 1 is better);',
    'bold rows are offheap, the others its peers. Spreads and notes: [bench/results/latest.md](bench/results/latest.md).',
    '',
    '| suite | workload | baseline | the others against the baseline (their median) |',
    '| --- | --- | --- | --- |',
  ];
  const targets = [];
  const headline = HEADLINE_SUITES.flatMap((name) => report.suites.filter((s) => s.name === name));
  const shown = headline.length ? headline : report.suites;
  for (const s of shown) {
    if (s.error) out.push(`| ${s.name} | **suite failed**: ${s.error} | | |`);
    for (const g of s.groups ?? []) {
      const base = g.rows.find((r) => r.name === g.baseline);
      const others = g.rows.filter((r) => r !== base).map((r) => {
        const name = r.peer ? r.name : `**${r.name}**`;
        if (r.median !== null) return `${name}: ${fmtRatio(r.ratio)}x (${fmt(r.median)})`;
        return `${name}: ${/^does not apply/.test(r.unavailable ?? '') ? 'does not apply' : 'not available in this build'}`;
      });
      out.push(`| ${s.name} | ${g.title} | ${base.name}: ${fmt(base.median)} ${g.unit} | ${others.join('<br>')} |`);
      for (const t of g.targets ?? []) targets.push(`- ${g.title}: ${t.label}: ${statusWord(t)}${targetDetail(t, g.unit)}`);
    }
  }
  if (targets.length) out.push('', 'Targets, checked in this run:', '', ...targets);
  const others = report.suites.filter((s) => !shown.includes(s)).map((s) => s.name);
  if (others.length) out.push('', `The allocators one by one (${others.join(', ')}), with every target: [bench/results/latest.md](bench/results/latest.md); chart: [latest.svg](${chartPath}).`);
  else out.push('', `![ratios against each group's baseline, log scale](${chartPath})`);
  return out.join('\n');
}

/** Replaces the text between the markers of `readme` (text) with `section`. */
export function spliceReadme(readme, section) {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${START} ... ${END} markers`);
  return `${readme.slice(0, a + START.length)}\n${section}\n${readme.slice(b)}`;
}

function fmtMinutes(seconds) {
  if (!seconds) return 'duration not recorded';
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
