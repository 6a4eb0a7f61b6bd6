// Native core suite (DESIGN section 9): the C++ driver in native/bench run on
// each allocator adapter (glibc malloc, jemalloc, mimalloc, the inlined
// reference floors and, once plugged in, offheap's core allocators) for churn,
// alloc-all/free-all, mixed sizes with a live set and two threads.
// Two figures: instructions per op from callgrind (collected only inside the
// measured loop: the noise-free figure) and ns per op over interleaved runs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { done, makeGroup, progress } from '../harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const out = join(root, 'build/native-bench');

const WORKLOADS = [
  { key: 'churn', title: 'churn: alloc(64) then free', time: 2_000_000, cg: 200_000 },
  { key: 'alloc-free-all', title: 'alloc-all then free-all: 64 B x N', time: 500_000, cg: 100_000 },
  { key: 'mixed', title: 'mixed sizes 16..1024 B, live set of 1024', time: 1_000_000, cg: 200_000 },
  { key: 'two-threads', title: 'two threads, mixed sizes each', time: 1_000_000, cg: 200_000 },
];
const BASELINE = 'glibc malloc';
/** Rows the report always shows: offheap's core allocators (native/bench/offheap_adapters.h). */
const OFFHEAP = ['offheap Arena', 'offheap ObjectPool', 'offheap ObjectPool + magazines', 'offheap SlabAllocator', 'offheap SlabAllocator, shared'];
/** The C-allocator peers beside glibc, from Debian packages. */
const PEERS = [
  { key: 'jemalloc', name: 'jemalloc', pkg: 'libjemalloc-dev', header: '/usr/include/jemalloc/jemalloc.h' },
  { key: 'mimalloc', name: 'mimalloc', pkg: 'libmimalloc-dev', header: '/usr/include/mimalloc.h' },
];
/** Targets of the allocator issues that this suite checks (instructions per op). */
const TARGETS = {
  churn: [
    { candidate: 'offheap Arena', atMost: 15, label: 'offheap Arena: an alloc (+ no-op free, loop included; size known at compile time) at most 15 instructions' },
    { candidate: 'offheap ObjectPool', vs: 'mimalloc', atLeast: 2, label: 'offheap ObjectPool churn, guards included, at most half of mimalloc\'s instructions',
      why: 'a handle from JavaScript is checked on both sides (its range, an exact multiple of the slot size, the state byte) and both operations are counted; the reference union-slot pool does none of that' },
  ],
  mixed: [
    { candidate: 'offheap SlabAllocator', vs: 'mimalloc', atLeast: 1.5, label: 'offheap SlabAllocator mixed churn, guards included, at most 2/3 of mimalloc\'s instructions' },
  ],
};

function sh(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', cwd: root, ...opts });
}

const have = (cmd) => sh('sh', ['-c', `command -v ${cmd}`]).status === 0;

/**
 * Installs the missing peers (and valgrind) with apt-get when we are root and
 * may (full runs only; OFFHEAP_BENCH_NO_INSTALL=1 forbids it). Returns notes.
 */
function ensurePeers(quick) {
  const missing = PEERS.filter((p) => !existsSync(p.header)).map((p) => p.pkg);
  if (!have('valgrind')) missing.push('valgrind');
  if (missing.length === 0) return [];
  const canInstall = !quick && process.env.OFFHEAP_BENCH_NO_INSTALL !== '1' && process.getuid?.() === 0 && have('apt-get');
  if (!canInstall) {
    const why = quick ? 'quick mode installs nothing' : process.getuid?.() !== 0 ? 'not root' : 'installing disabled or no apt-get';
    return [`Not installed (${why}): ${missing.join(', ')}; install with \`sudo apt-get install ${missing.join(' ')}\`.`];
  }
  console.error(`installing ${missing.join(', ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = sh('apt-get', ['update', '-qq'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const install = update.status === 0 && sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  return install && install.status === 0 ? [`Installed with apt-get for this run: ${missing.join(', ')}.`] : [`apt-get could not install ${missing.join(', ')}.`];
}

/** Builds the binaries that can be built; returns [{ bin, adapters }] and notes. */
function build() {
  const made = [];
  const notes = [];
  const variants = [{ target: 'glibc' }, ...PEERS.map((p) => ({ target: p.key, peer: p }))];
  for (const v of variants) {
    if (v.peer && !existsSync(v.peer.header)) continue;
    const r = sh('make', ['-C', 'native/bench', '--no-print-directory', v.target, `OUT=${out}`]);
    if (r.status !== 0) {
      if (!v.peer) throw new Error(`native/bench does not build:\n${r.stdout}${r.stderr}`);
      notes.push(`${v.peer.name}: did not build (${r.stderr.trim().split('\n').pop()}).`);
      continue;
    }
    const bin = join(out, `bench-${v.target}`);
    const list = sh(bin, ['--list']);
    made.push({ bin, adapters: list.stdout.trim().split('\n').map((l) => JSON.parse(l)) });
  }
  return { made, notes };
}

function runOnce(bin, key, workload, ops, valgrindOut) {
  const args = ['--adapter', key, '--workload', workload, '--ops', String(ops)];
  const r = valgrindOut
    ? sh('valgrind', ['--tool=callgrind', '--collect-atstart=no', `--callgrind-out-file=${valgrindOut}`, bin, ...args])
    : sh(bin, args);
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed:\n${r.stderr}`);
  const line = JSON.parse(r.stdout.trim().split('\n').pop());
  if (!valgrindOut) return line.ns_per_op;
  const m = /^(?:summary|totals): (\d+)/m.exec(readFileSync(valgrindOut, 'utf8'));
  if (!m) throw new Error(`no totals in ${valgrindOut}`);
  return Number(m[1]) / ops;
}

export default async function native({ quick }) {
  const notes = ensurePeers(quick);
  const { made, notes: buildNotes } = build();
  notes.push(...buildNotes);
  const adapters = made.flatMap((m) => m.adapters.map((a) => ({ ...a, bin: m.bin })));
  const present = new Set(adapters.map((a) => a.name));
  // Rows that are not in this build still show, with the reason.
  const absent = [
    ...PEERS.filter((p) => !present.has(p.name)).map((p) => ({ name: p.name, peer: true, unavailable: `${p.pkg} not installed` })),
    ...OFFHEAP.filter((n) => !present.has(n)).map((n) => ({ name: n, peer: false, unavailable: 'no adapter in native/bench yet' })),
  ];
  /** The row of adapter `a` in workload `w`: measured, or why it does not apply. */
  const applies = (a, w) => !a.workloads || a.workloads.includes(w);
  // A main offheap row that does not apply stays with the reason; a variant row
  // (size at run time, locked per op) shows only where it is measured.
  const rowsOf = (w, samples) => adapters.filter((a) => applies(a, w.key) || OFFHEAP.includes(a.name)).map((a) => (applies(a, w.key)
    ? { name: a.name, peer: a.peer, samples: samples.get(`${w.key}/${a.name}`) }
    : { name: a.name, peer: a.peer, unavailable: `does not apply: ${a.whyNot}` }));
  const rounds = quick ? 2 : 9;
  const scale = quick ? 0.005 : 1;
  const groups = [];

  // ns per op: every (workload, adapter) run once per round, the order rotated.
  const ns = new Map();
  const t0 = Date.now();
  for (let r = 0; r < rounds; r++) {
    for (const w of WORKLOADS) {
      for (let k = 0; k < adapters.length; k++) {
        const a = adapters[(k + r) % adapters.length];
        if (!applies(a, w.key)) continue;
        const id = `${w.key}/${a.name}`;
        if (!ns.has(id)) ns.set(id, []);
        ns.get(id).push(runOnce(a.bin, a.key, w.key, Math.ceil(w.time * scale), null));
      }
      progress(`native ns/op: round ${r + 1}/${rounds}, ${w.key}`);
    }
  }
  done(`native ns/op (${rounds} rounds, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);

  // Instructions per op: callgrind per (workload, adapter), a few rounds: the
  // counts repeat exactly except where an allocator purges on a timer (jemalloc).
  const cg = new Map();
  const cgDir = join(out, 'callgrind');
  const cgRounds = quick ? 1 : 3;
  const useCallgrind = have('valgrind');
  if (useCallgrind) {
    mkdirSync(cgDir, { recursive: true });
    const t1 = Date.now();
    // Quick mode only checks that the callgrind path works, on one workload.
    const cgWorkloads = quick ? WORKLOADS.slice(0, 1) : WORKLOADS;
    for (let r = 0; r < cgRounds; r++) {
      for (const w of cgWorkloads) {
        for (let k = 0; k < adapters.length; k++) {
          const a = adapters[(k + r) % adapters.length];
          if (!applies(a, w.key)) continue;
          progress(`native callgrind: round ${r + 1}/${cgRounds}, ${w.key}, ${a.name}`);
          const id = `${w.key}/${a.name}`;
          const file = join(cgDir, `${a.key}-${w.key}.out`);
          rmSync(file, { force: true });
          if (!cg.has(id)) cg.set(id, []);
          cg.get(id).push(runOnce(a.bin, a.key, w.key, Math.ceil(w.cg * (quick ? 0.01 : 1)), file));
        }
      }
    }
    done(`native callgrind (${cgRounds} rounds, ${((Date.now() - t1) / 1000).toFixed(1)} s)`);
  } else {
    notes.push('valgrind not found: no instruction counts in this run (`apt-get install valgrind`).');
  }

  for (const w of WORKLOADS) {
    if (cg.has(`${w.key}/${BASELINE}`)) {
      groups.push(makeGroup(`${w.title}: instructions per op (callgrind)`, [
        ...rowsOf(w, cg),
        ...absent,
      ], {
        unit: 'instructions/op', ops: Math.ceil(w.cg * (quick ? 0.01 : 1)), rounds: cgRounds, baseline: BASELINE, target: TARGETS[w.key],
        note: 'Instructions retired inside the measured loop (loop included; setup, warm-up and teardown excluded), valgrind --tool=callgrind. '
          + 'Counts repeat exactly from run to run except where an allocator purges on a timer (jemalloc).',
      }));
    }
    groups.push(makeGroup(`${w.title}: time per op`, [
      ...rowsOf(w, ns),
      ...absent,
    ], { unit: 'ns/op', ops: Math.ceil(w.time * scale), rounds, baseline: BASELINE, note: 'Wall time of the measured loop, each run in its own process, runs interleaved across allocators.' }));
  }
  notes.push(
    'Native suite: an op is one alloc + one free. The reference bump and union-slot pool are the inlined floors (no checks, no stats, '
      + 'single thread each); in the mixed workloads the reference pool serves every size from 1024 B slots and the bump wraps around '
      + 'when its 64 MiB are used. jemalloc is linked as the process malloc (malloc/free), mimalloc through mi_malloc/mi_free. '
      + 'offheap rows (native/bench/offheap_adapters.h), each used as its facade uses it: Arena::alloc inlined (free a no-op, '
      + 'free-all one reset(); "size at run time" hides the size from the compiler); ObjectPool: the core alloc/free (one owner, '
      + 'slots of the largest size, as the reference pool); "+ magazines": a thread\'s attachment to a shared PoolDepot with a magazine '
      + 'of 256 offsets refilled/drained by 128 and the state-byte guards (CAS on free), the JS fast path in C++; SlabAllocator: a '
      + 'LocalSlabCache over an unshared allocator; ", shared": a SlabCache per thread over one allocator (atomic state bytes, CAS on free). '
      + 'A row that does not apply to a workload says why. '
      + `Driver: native/bench (g++ -O2), one binary per malloc.`,
    'mimalloc\'s churn count depends on its page state: here other live blocks share the 64 B page (the driver\'s own C++ '
      + 'allocations go through mimalloc too), so a free never empties it; alone in its page (an ad-hoc loop of alloc+free alone, '
      + '~116 instructions) every free empties the page and takes mimalloc\'s retire path, about 60 instructions more.',
  );
  return { groups, notes };
}
