// npm test: the C++ core tests (ASan + UBSan) and every vitest suite, then
// one summary line counted over both: "tests: N passed, N failed".
// The line is also written to build/test-summary.txt for .ci/run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { root } from './native-hash.mjs';

const out = join(root, 'build');
mkdirSync(out, { recursive: true });
const nativeJson = join(out, 'native-test/results.json');
const vitestJson = join(out, 'vitest.json');
rmSync(nativeJson, { force: true });
rmSync(vitestJson, { force: true });
rmSync(join(root, 'dist'), { recursive: true, force: true }); // no stale output (old source maps) reaches the package
rmSync(join(out, 'dist-stamps.json'), { force: true }); // written anew by the global setup

function run(cmd, args) {
  console.log(`\n> ${cmd} ${args.join(' ')}`);
  return spawnSync(cmd, args, { cwd: root, stdio: 'inherit' }).status ?? 1;
}

// Extra arguments go to vitest (e.g. `npm test -- test/arena.test.ts`).
const extra = process.argv.slice(2);
// dist/ is built by vitest's global setup (test/global-setup.ts), once, before any test file runs.
const skipNative = process.env.OFFHEAP_SKIP_NATIVE_TESTS === '1';
const nativeStatus = skipNative ? 0 : run('make', ['-C', 'native/test', '-j2', '--no-print-directory', 'run']);
const vitestStatus = run(join(root, 'node_modules/.bin/vitest'), [
  'run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestJson}`, ...extra,
]);

let passed = 0;
let failed = 0;
let skipped = 0;
const failures = []; // names of what failed, repeated just above the summary line
if (!skipNative) {
  if (existsSync(nativeJson)) {
    const r = JSON.parse(readFileSync(nativeJson, 'utf8'));
    passed += r.passed;
    failed += r.failed;
    if (r.failed) failures.push(`C++ core: ${r.failed} failed (see the output above)`);
  } else {
    failed += 1; // the C++ tests did not build or crashed before reporting
    failures.push('C++ core: did not build or crashed before reporting');
  }
}
// The first line of an error, short enough for the summary above the last line.
const firstLine = (text) => String(text ?? '').split('\n').find((l) => l.trim())?.trim().slice(0, 200) ?? '';
if (existsSync(vitestJson)) {
  const r = JSON.parse(readFileSync(vitestJson, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  // A suite that failed to load counts as a failure even with no test in it.
  for (const suite of r.testResults ?? []) {
    const file = relative(root, suite.name);
    for (const a of suite.assertionResults) if (a.status === 'failed') failures.push(`${file} > ${a.fullName}: ${firstLine(a.failureMessages?.[0])}`);
    if (suite.status === 'failed' && suite.assertionResults.every((a) => a.status !== 'failed')) {
      failed += 1;
      failures.push(`${file}: ${firstLine(suite.message) || 'failed to load, or a hook failed (see the output above)'}`);
    }
  }
} else {
  failed += 1;
  failures.push('vitest wrote no report');
}

// dist/ as vitest's global setup built it (test/global-setup.ts): a test that rebuilt it raced the others.
const stampsFile = join(out, 'dist-stamps.json');
if (existsSync(stampsFile)) {
  const built = JSON.parse(readFileSync(stampsFile, 'utf8'));
  const changed = Object.keys(built).filter((f) => !existsSync(f) || statSync(f).mtimeMs !== built[f]);
  if (changed.length) {
    failed += 1;
    failures.push(`dist/ was rewritten while the tests ran (a test built the package again): ${changed.slice(0, 3).map((f) => relative(root, f)).join(', ')}`);
  }
}

const ok = nativeStatus === 0 && vitestStatus === 0 && failed === 0;
if (!ok && failed === 0) failed = 1; // a runner failed without a failed test: count it
const summary = `tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
writeFileSync(join(out, 'test-summary.txt'), `${summary}\n`);
writeFileSync(join(out, 'test-failures.txt'), failures.map((f) => `${f}\n`).join(''));
if (failures.length) console.log(`\nfailed:\n${failures.map((f) => `  ${f}`).join('\n')}`);
console.log(`\n${summary}`);
process.exit(ok ? 0 : 1);
