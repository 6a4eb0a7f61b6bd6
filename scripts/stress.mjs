// The long native stress run: builds the core tests under ASan +
// UBSan and runs the stress_* cases for several seeds with many operations.
//   npm run stress -- [opsPerCase=1000000] [seeds=4] [firstSeed=1]
// Prints operations run and sanitizer reports; exits 1 on any failure or report.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { root } from './native-hash.mjs';

const [ops = 1_000_000, seeds = 4, first = 1] = process.argv.slice(2).map(Number);
const make = spawnSync('make', ['-C', 'native/test', '-j2', '--no-print-directory', 'all'], { cwd: root, stdio: 'inherit' });
if (make.status !== 0) process.exit(1);

let total = 0;
let reports = 0;
let failures = 0;
for (let seed = first; seed < first + seeds; seed++) {
  const r = spawnSync(join(root, 'build/native-test/core-tests'), [], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: {
      ...process.env,
      OFFHEAP_TEST_FILTER: 'stress',
      OFFHEAP_STRESS_OPS: String(ops),
      OFFHEAP_STRESS_SEED: String(seed),
      ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0',
      UBSAN_OPTIONS: 'print_stacktrace=1',
    },
  });
  const out = `${r.stdout}${r.stderr}`;
  const found = (out.match(/ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/g) ?? []).length;
  const ran = Number(/stress: (\d+) operations/.exec(out)?.[1] ?? 0);
  total += ran;
  reports += found;
  if (r.status !== 0 || r.signal) failures++;
  console.log(`seed ${seed}: ${ran} operations, status ${r.status}${r.signal ? ` signal ${r.signal}` : ''}, sanitizer reports ${found}`);
  if (r.status !== 0 || found) console.log(out);
}
console.log(`stress: ${total} operations over ${seeds} seeds, ${failures} failed runs, ${reports} sanitizer reports`);
process.exit(failures || reports ? 1 : 0);
