// npm run bench [-- --quick] [-- suite-name ...] [-- --out DIR/NAME] [-- --no-readme]:
// runs every suite under bench/suites in its own child process (so one suite's
// garbage and JIT state never bleed into the next), then writes the report as
// Markdown, JSON and an SVG chart of the ratios:
//   full run of every suite  -> bench/results/latest.{md,json,svg} and README.md's table
//   --quick                  -> bench/results/quick.*   (CI smoke run: checks the harness)
//   some suites only         -> bench/results/partial.*
// --out PATH writes PATH.{md,json,svg} instead (the README is then left alone).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { suitesDir, toMarkdown } from './harness.mjs';
import { renderChart, renderLatencyChart } from './chart.mjs';
import { hasLatency, summaryTable, updateReadme } from './readme.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const outIndex = args.indexOf('--out');
const outArg = outIndex >= 0 ? args[outIndex + 1] : null;
const wanted = args.filter((a, i) => !a.startsWith('--') && (outIndex < 0 || i !== outIndex + 1));
// The real-work suites first (the report's first section), then the rest by name.
const FIRST = ['sessions', 'server'];
const all = readdirSync(suitesDir())
  .filter((f) => f.endsWith('.mjs'))
  .map((f) => f.replace(/\.mjs$/, ''))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
function rank(name) {
  const i = FIRST.indexOf(name);
  return i < 0 ? FIRST.length : i;
}
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; suites: ${all.join(', ')}`);
  process.exit(2);
}
const suites = wanted.length ? all.filter((s) => wanted.includes(s)) : all;
const complete = suites.length === all.length;

const tmp = join(here, 'results/tmp');
mkdirSync(tmp, { recursive: true });
const cpus = os.cpus();
const report = {
  date: new Date().toISOString(),
  command: `npm run bench${quick || !complete ? ` -- ${[quick && '--quick', ...(complete ? [] : suites)].filter(Boolean).join(' ')}` : ''}`,
  machine: { cpu: cpus[0]?.model, cores: cpus.length, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${process.platform}-${process.arch}`, load: os.loadavg().map((l) => +l.toFixed(2)) },
  quick,
  seconds: 0,
  suites: [],
};
const t0 = Date.now();
let failed = 0;
suites.forEach((name, i) => {
  console.error(`\n== [${i + 1}/${suites.length}] ${name}`);
  const started = Date.now();
  const out = join(tmp, `${name}.json`);
  rmSync(out, { force: true });
  const child = spawnSync(process.execPath, ['--expose-gc', join(here, 'suite-runner.mjs'), name, out, ...(quick ? ['--quick'] : [])], {
    stdio: ['ignore', 'inherit', 'inherit'],
    // Bounded: a suite that hangs is reported as failed, and the report is still written.
    timeout: (quick ? 5 : 20) * 60_000,
    killSignal: 'SIGKILL',
  });
  const seconds = (Date.now() - started) / 1000;
  let result = null;
  let unreadable = null;
  try {
    result = JSON.parse(readFileSync(out, 'utf8'));
  } catch (e) {
    unreadable = existsSync(out) ? `its result could not be read: ${e.message}` : null;
  }
  const error = child.status !== 0
    ? (result?.error ?? (child.error?.code === 'ETIMEDOUT' ? `timed out after ${seconds.toFixed(0)} s` : `exited with ${child.status ?? child.signal}`))
    : (unreadable ?? (result && typeof result === 'object' ? result.error : 'wrote no result'));
  console.error(`== ${name}: ${error ? `failed (${error})` : result?.skipped ? `skipped (${result.skipped})` : 'done'} in ${seconds.toFixed(1)} s`);
  if (error) {
    failed++;
    report.suites.push({ name, seconds, error: String(error) });
    return;
  }
  report.suites.push({ name, seconds, ...result });
});
report.seconds = (Date.now() - t0) / 1000;

const md = [
  '# offheap benchmarks',
  '',
  `${report.date}, ${report.machine.cpu} (${report.machine.cores} cores), Node ${report.machine.node}, \`${report.command}\`, ${report.seconds.toFixed(0)} s, load average at start ${report.machine.load.join(' ')}`,
  '',
  'Bold rows are offheap, the others its peers. Every figure is a median over interleaved rounds (spread: half the',
  'interquartile range over the median); ratios are against the group\'s baseline measured in the same run.',
  '',
];
if (quick) md.push('**Quick mode**: tiny counts, few rounds; these figures check the harness and mean nothing.', '');
// Each piece is written even when another cannot be: a malformed group says so in its place.
const safely = (what, fn) => {
  try {
    return fn();
  } catch (e) {
    return `${what} could not be rendered: ${e.message}\n`;
  }
};
for (const s of report.suites) {
  md.push(`## ${s.name}`, '');
  if (s.error) md.push(`**suite failed**: ${s.error}`, '');
  if (s.skipped) md.push(`**skipped**: ${s.skipped}`, '');
  for (const t of Array.isArray(s.summary) ? s.summary : []) md.push(safely('summary table', () => summaryTable(t).join('\n')), '');
  for (const g of Array.isArray(s.groups) ? s.groups : []) md.push(safely(`group ${g?.title}`, () => toMarkdown(g)));
  for (const line of Array.isArray(s.notes) ? s.notes : []) md.push(String(line), '');
}
const dir = join(here, 'results');
const base = outArg ? resolve(outArg) : join(dir, quick ? 'quick' : complete ? 'latest' : 'partial');
mkdirSync(dirname(base), { recursive: true });
writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(`${base}.md`, `${md.join('\n')}\n`);
// A chart that cannot be drawn is replaced by one line saying why.
const svgOf = (fn) => {
  try {
    return fn();
  } catch (e) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="600" height="40"><text x="8" y="24">chart could not be drawn: ${String(e.message).replace(/[<&>]/g, '')}</text></svg>\n`;
  }
};
writeFileSync(`${base}.svg`, svgOf(() => renderChart(report)));
if (hasLatency(report)) writeFileSync(`${base}-latency.svg`, svgOf(() => renderLatencyChart(report)));
console.log(md.join('\n'));
console.error(`\nwrote ${base}.{json,md,svg}${hasLatency(report) ? ` and ${base}-latency.svg` : ''} in ${report.seconds.toFixed(0)} s`);
if (!quick && complete && !outArg && !args.includes('--no-readme')) {
  // The README shows what this run measured, a failed suite included (as failed).
  try {
    console.error(`updated ${updateReadme(`${base}.json`)}${failed ? ` (${failed} suite(s) failed, shown as failed)` : ''}`);
  } catch (e) {
    console.error(`README.md not updated: ${e.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
