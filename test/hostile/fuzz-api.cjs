// A hostile caller, run in a child process by test/hostile.test.ts: calls
// every public method of every allocator with hostile arguments, and
// scribbles random bytes over allocator memory through `buffer`, in release
// or debug mode. It must end normally: no signal, no hang. Every error thrown
// must be typed (OffheapError, TypeError or RangeError with a string `code`).
//   node fuzz-api.cjs <seed> <iterations> <debug:0|1> <scribble:0|1>
'use strict';
const offheap = require('../../dist/cjs/index.js');

const [seed = 1, iterations = 20000, debug = 0, scribble = 0] = process.argv.slice(2).map(Number);
let state = seed >>> 0 || 1;
function rand(n) {
  // xorshift32: repeatable runs for a given seed
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state % n;
}
const pick = (xs) => xs[rand(xs.length)];

const KiB = 1024;
function make(kind) {
  const d = debug ? { debug: true } : {};
  switch (kind) {
    case 'Arena': return new offheap.Arena({ maxBytes: 256 * KiB, ...d });
    case 'ObjectPool': return new offheap.ObjectPool({ slotSize: 48, capacity: 512, ...d });
    case 'SlabAllocator': return new offheap.SlabAllocator({ maxBytes: 4 * 1024 * KiB, slabBytes: 64 * KiB, ...d });
    default: throw new Error(kind);
  }
}

const KINDS = (process.env.OFFHEAP_FUZZ_KINDS || 'Arena,ObjectPool,SlabAllocator').split(',');
const stats = { calls: 0, typedErrors: 0, ok: 0, scribbles: 0, recreated: 0 };
const allocators = KINDS.map(make);
const handles = [];   // numbers returned by allocHandle & co, possibly stale
const views = [];     // Buffers returned by alloc & co, possibly stale
// A user's own getter that throws: its error may pass through unchanged.
class UserTrap extends Error {}
const foreign = [Buffer.alloc(64), Buffer.allocUnsafe(16), new Uint8Array(8)];

function hostile() {
  return pick([
    -1, -0, 0.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32 + 8, 2 ** 53, Number.MAX_VALUE,
    '16', '', null, undefined, {}, [], [16], 1n, -1n, true, Symbol('x'), () => 16,
    { valueOf: () => 16 }, new Proxy({}, { get: () => { throw new UserTrap('proxy trap'); } }),
    pick(foreign), Buffer.alloc(0),
  ]);
}

function arg() {
  switch (rand(6)) {
    case 0: return hostile();
    case 1: return handles.length ? pick(handles) : 0;
    case 2: return views.length ? pick(views) : pick(foreign);
    case 3: return rand(4096);
    case 4: return handles.length ? pick(handles) + pick([1, -1, 8, 4096]) : rand(1 << 20);
    default: return 1 << rand(13);
  }
}

function keep(result) {
  if (typeof result === 'number' && Number.isInteger(result) && result >= 0) handles.push(result);
  else if (result instanceof Uint8Array) views.push(result);
  if (handles.length > 2000) handles.splice(0, 1000);
  if (views.length > 2000) views.splice(0, 1000);
}

function checkTyped(err, what) {
  if (err instanceof UserTrap) return;
  const ok = err instanceof offheap.OffheapError || err instanceof TypeError || err instanceof RangeError;
  if (!ok || typeof err.code !== 'string') {
    // An untyped error is a bug: report it and fail the run (but never crash).
    console.error(`untyped error from ${what}:`, err);
    process.exitCode = 3;
  }
}

// The public API of each allocator (DESIGN.md section 4, plus additions).
// TypeScript-private methods are reachable from JS but are not API.
const PUBLIC = {
  Arena: ['alloc', 'allocZeroed', 'allocHandle', 'mark', 'rollback', 'scope', 'defer', 'reset', 'stats', 'verify', 'leaks', 'share'],
  ObjectPool: ['allocHandle', 'tryAllocHandle', 'freeHandle', 'view', 'alloc', 'free', 'stats', 'verify', 'leaks', 'share'],
  SlabAllocator: ['alloc', 'free', 'allocHandle', 'freeHandle', 'usableSize', 'view', 'trim', 'stats', 'verify', 'leaks', 'share'],
};
const GETTERS = ['buffer', 'name', 'destroyed', 'live', 'capacity', 'slotSize', 'used', 'committed', 'peak'];

function methodsOf(obj) {
  const names = PUBLIC[obj.constructor.name];
  for (const n of names) if (typeof obj[n] !== 'function') throw new Error(`${obj.constructor.name}.${n} is missing`);
  return names;
}

const methods = allocators.map(methodsOf);

for (let i = 0; i < iterations; i++) {
  const k = rand(allocators.length);
  const a = allocators[k];
  if (scribble && rand(50) === 0 && a.buffer.byteLength > 0) {
    // Scribble over allocator memory the way a buggy user could.
    const bytes = new Uint8Array(a.buffer);
    const used = Math.min(bytes.length, 1 << 20);
    for (let j = 0; j < 64; j++) bytes[rand(used)] = rand(256);
    stats.scribbles++;
  }
  if (rand(2000) === 0) {
    a.destroy(); // later calls must say ERR_OFFHEAP_DESTROYED, old views must not crash
    for (let j = 0; j < 20; j++) {
      try { a[pick(methods[k])](arg(), arg()); } catch (e) { checkTyped(e, `${KINDS[k]} after destroy`); }
    }
    allocators[k] = make(KINDS[k]);
    stats.recreated++;
    continue;
  }
  if (rand(10) === 0) {
    // Getters and the static attach() with hostile descriptors.
    try { void a[pick(GETTERS)]; } catch (e) { checkTyped(e, `${KINDS[k]} getter`); }
    const cls = offheap[KINDS[k]];
    if (typeof cls.attach === 'function') {
      try { cls.attach(pick([hostile(), { id: rand(100) }, { kind: KINDS[k], id: rand(100) }])); } catch (e) { checkTyped(e, `${KINDS[k]}.attach`); }
    }
  }
  const name = pick(methods[k]);
  const args = Array.from({ length: rand(4) }, arg);
  stats.calls++;
  try {
    const r = a[name](...args);
    if (r && typeof r.then === 'function') r.catch((e) => checkTyped(e, `${KINDS[k]}.${name} (async)`));
    keep(r);
    stats.ok++;
  } catch (e) {
    checkTyped(e, `${KINDS[k]}.${name}`);
    stats.typedErrors++;
  }
  // Touch a random old view: it may be stale, it must never crash.
  if (views.length && rand(4) === 0) {
    const v = pick(views);
    if (v.length) { v[rand(v.length)] = rand(256); void v[0]; }
  }
}
for (const a of allocators) a.destroy();
console.log(JSON.stringify(stats));
