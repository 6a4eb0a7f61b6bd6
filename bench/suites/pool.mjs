// ObjectPool against its peers, every ratio measured in the same run:
// handle churn vs a pure-JS Int32Array free list and @thi.ng/malloc, Buffer
// churn vs Buffer.allocUnsafe, resident bytes per slot, one million
// long-lived records vs Buffer.alloc (time, GC pauses, heap), two workers
// sharing a pool vs one, and debug mode next to release.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ObjectPool } from 'offheap';
import { compare, consume, makeGroup, medianOf as med, QUICK } from '../harness.mjs';
import { JsFreeList, thingPool } from '../peers.mjs';
import { threadGroups } from '../threads.mjs';

const memoryScript = fileURLToPath(new URL('../workers/pool-memory.mjs', import.meta.url));

export default async function pool() {
  const groups = [];
  const notes = [];
  groups.push(await handleChurn());
  groups.push(await bufferChurn());
  groups.push(await debugCost());
  const resident = residentBytes();
  groups.push(resident);
  const records = longLivedRecords();
  groups.push(records.group);
  notes.push(...records.notes);
  groups.push(...(await threadGroups('ObjectPool', () => new ObjectPool({ slotSize: 16, capacity: 1 << 16, name: 'bench-shared' }))));
  notes.push(
    'Release-mode alloc() hands the Buffer object of a slot freed with free(buf) out again (see README); the ' +
      '"alloc() + freeHandle()" row makes a new Buffer every time.',
    'Shared pools (the worker rows) free with Atomics.compareExchange on the slot-state table; unshared pools with a plain store.',
  );
  return { groups, notes };
}

async function handleChurn() {
  const release = new ObjectPool({ slotSize: 64, capacity: 1 << 16, name: 'bench' });
  const js = new JsFreeList(64, 1 << 16);
  const thing = thingPool(1 << 24);
  const group = await compare('Fixed-size churn, 64 B: alloc + free pair (handles)', [
    { name: 'JsFreeList (Int32Array)', peer: true, run: (n) => { for (let i = 0; i < n; i++) { const h = js.alloc(); consume(h); js.freeSlot(h); } } },
    { name: 'ObjectPool allocHandle+freeHandle', run: (n) => { for (let i = 0; i < n; i++) { const h = release.allocHandle(); consume(h); release.freeHandle(h); } } },
    { name: '@thi.ng/malloc malloc+free', peer: true, run: (n) => { for (let i = 0; i < n; i++) { const h = thing.malloc(64); consume(h); thing.free(h); } } },
  ], {
    ops: 2_000_000, baseline: 'JsFreeList (Int32Array)',
    target: [
      {
        candidate: 'ObjectPool allocHandle+freeHandle', vs: 'JsFreeList (Int32Array)', atLeast: 1 / 1.5,
        label: 'ObjectPool handle pair, guards included, in at most 1.5x the time of a pure-JS Int32Array free list (ratio >= 0.67)',
        why: 'the free list checks nothing; the pool checks the handle (a shift or a multiply, its range, the state byte), keeps its magazine in a native block and counts its frees',
      },
      { candidate: 'ObjectPool allocHandle+freeHandle', vs: '@thi.ng/malloc malloc+free', atLeast: 3, label: 'ObjectPool handle pair at least 3x faster than @thi.ng/malloc' },
    ],
  });
  release.destroy();
  return group;
}

async function bufferChurn() {
  const release = new ObjectPool({ slotSize: 64, capacity: 1 << 16, name: 'bench-buffers' });
  const group = await compare('Fixed-size churn, 64 B: a Buffer per allocation', [
    { name: 'Buffer.allocUnsafe(64)', peer: true, run: (n) => { for (let i = 0; i < n; i++) consume(Buffer.allocUnsafe(64).length); } },
    { name: 'ObjectPool alloc()+free()', run: (n) => { for (let i = 0; i < n; i++) { const b = release.alloc(); consume(b.length); release.free(b); } } },
    { name: 'ObjectPool alloc()+freeHandle() (a new Buffer each time)', run: (n) => { for (let i = 0; i < n; i++) { const b = release.alloc(); consume(b.length); release.freeHandle(b.byteOffset); } } },
  ], {
    ops: 300_000, baseline: 'Buffer.allocUnsafe(64)',
    target: { candidate: 'ObjectPool alloc()+free()', vs: 'Buffer.allocUnsafe(64)', atLeast: 1.5, label: 'ObjectPool alloc()+free() with a Buffer at least 1.5x faster than Buffer.allocUnsafe(64)' },
  });
  release.destroy();
  return group;
}

async function debugCost() {
  const release = new ObjectPool({ slotSize: 64, capacity: 1 << 16, name: 'bench-release' });
  const debug = new ObjectPool({ slotSize: 64, capacity: 1 << 16, debug: { poison: true, leaks: 'off' }, name: 'bench-debug' });
  const paranoid = new ObjectPool({ slotSize: 64, capacity: 1 << 16, debug: { poison: true, leaks: 'paranoid' }, name: 'bench-paranoid' });
  // One loop per candidate: a shared closure would make every call site polymorphic.
  const group = await compare('Debug mode next to release, 64 B churn', [
    { name: 'release allocHandle+freeHandle', run: (n) => { for (let i = 0; i < n; i++) { const h = release.allocHandle(); consume(h); release.freeHandle(h); } } },
    { name: 'debug allocHandle+freeHandle (poison)', run: (n) => { for (let i = 0; i < n; i++) { const h = debug.allocHandle(); consume(h); debug.freeHandle(h); } } },
    { name: 'debug allocHandle+freeHandle (poison, paranoid stacks)', run: (n) => { for (let i = 0; i < n; i++) { const h = paranoid.allocHandle(); consume(h); paranoid.freeHandle(h); } } },
    { name: 'release alloc()+free()', run: (n) => { for (let i = 0; i < n; i++) { const b = release.alloc(); consume(b.length); release.free(b); } } },
    { name: 'debug alloc()+free() (detachable views)', run: (n) => { for (let i = 0; i < n; i++) { const b = debug.alloc(); consume(b.length); debug.free(b); } } },
  ], { ops: 20_000, rounds: 9, baseline: 'release allocHandle+freeHandle', note: 'Debug mode takes the native path (a mutex, poison fill and check) on every operation.' });
  for (const p of [release, debug, paranoid]) p.destroy();
  return group;
}

function child(args, expose = false) {
  const r = spawnSync(process.execPath, [...(expose ? ['--expose-gc'] : []), memoryScript, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pool-memory ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** A result group from per-round samples (smaller is better): every row but ObjectPool's is a peer. */
function groupOf(title, unit, samples, baseline, rounds, ops, note, target) {
  const entries = Object.entries(samples).map(([name, v]) => ({ name, peer: name !== 'ObjectPool', samples: v }));
  return makeGroup(title, entries, { unit, ops, rounds, baseline, note, target });
}

function residentBytes() {
  const n = QUICK ? 50_000 : 1_000_000;
  const rounds = QUICK ? 1 : 3;
  const samples = { 'Buffer.alloc(64) in an Array': [], 'JsFreeList (Int32Array)': [], ObjectPool: [] };
  const which = { 'Buffer.alloc(64) in an Array': 'buffer', 'JsFreeList (Int32Array)': 'jsfreelist', ObjectPool: 'pool' };
  for (let r = 0; r < rounds; r++) {
    for (const name of Object.keys(samples)) samples[name].push(child(['resident', which[name], String(n)], true).bytesPerSlot);
  }
  return groupOf(`Resident bytes per live 64-byte slot, ${n} slots`, 'bytes/slot', samples, 'Buffer.alloc(64) in an Array', rounds, n,
    'RSS growth in a fresh process per candidate / slots (each slot written once). Ratio > 1: fewer bytes than the baseline.',
    { candidate: 'ObjectPool', atMost: 66, label: 'one million live 64-byte slots at most 66 resident bytes each' });
}

function longLivedRecords() {
  const n = QUICK ? 50_000 : 1_000_000;
  const rounds = QUICK ? 1 : 5;
  const runs = { 'Buffer.alloc(64) records': [], ObjectPool: [] };
  const which = { 'Buffer.alloc(64) records': 'buffer', ObjectPool: 'pool' };
  for (let r = 0; r < rounds; r++) for (const name of Object.keys(runs)) runs[name].push(child(['records', which[name], String(n)]));
  const samples = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.map((x) => x.totalMs)]));
  const group = groupOf(`${n} long-lived 64-byte records: make, fill, read once`, 'ms total', samples, 'Buffer.alloc(64) records', rounds, n,
    'Wall time including GC, a fresh process per round. See the records suite for the same with updates and GC pauses per phase.',
    { candidate: 'ObjectPool', vs: 'Buffer.alloc(64) records', atLeast: 10, label: 'ObjectPool: 1M records in at most 1/10 of the time of Buffer.alloc(64), GC included' });
  const notes = [
    `| ${n} records | GC events | GC total (ms) | GC max pause (ms) | heap used (MiB) | RSS (MiB) |`,
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...Object.entries(runs).map(([k, v]) =>
      `| ${k} | ${med(v.map((x) => x.gcCount))} | ${med(v.map((x) => x.gcTotalMs)).toFixed(1)} | ${med(v.map((x) => x.gcMaxMs)).toFixed(1)} | ${med(v.map((x) => x.heapUsedMiB)).toFixed(1)} | ${med(v.map((x) => x.rssMiB)).toFixed(0)} |`),
    `(medians of ${rounds} fresh processes; GC events from PerformanceObserver 'gc' entries)`,
  ];
  return { group, notes };
}
