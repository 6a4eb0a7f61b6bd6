// The two backings (DESIGN.md section 11): offheap.backing, the automatic
// switch to V8-allocated memory in a runtime that refuses external
// ArrayBuffers (simulated with OFFHEAP_TEST_REFUSE_EXTERNAL=1, which makes
// the addon's every napi_create_external_arraybuffer fail with
// napi_no_external_buffers_allowed), and what the v8 backing does where it
// differs: SharedArrayBuffers for pools and slabs, views not detached at
// destroy, memory given back, clones and transfers, share()/attach().
// Each case runs in a child process: the backing is chosen once per process.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { backing } from '../lib/native';
import { workerLib } from './worker-lib';

const root = join(__dirname, '..');
const TIMEOUT = 120_000;

function child(script: string, env: Record<string, string | undefined>) {
  const clean = { ...process.env };
  delete clean.OFFHEAP_BACKING;
  delete clean.OFFHEAP_TEST_REFUSE_EXTERNAL;
  return spawnSync(process.execPath, ['--expose-gc', '-e', script], {
    cwd: root, encoding: 'utf8', timeout: TIMEOUT, env: { ...clean, ...env },
  });
}

/** Runs `body` (with `o` the package) in a child and returns the JSON it printed last. */
function observe(body: string, env: Record<string, string | undefined>): Record<string, unknown> {
  const r = child(`const o = require(${JSON.stringify(join(workerLib(), 'index.js'))}); const out = {};\n(async () => {\n${body}\n})().then(() => console.log(JSON.stringify(out)), (e) => { console.error(e); process.exit(1); });`, env);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

describe('offheap.backing', () => {
  it('is external by default and v8 when OFFHEAP_BACKING=v8 (this process and children)', () => {
    expect(backing).toBe(process.env.OFFHEAP_BACKING === 'v8' ? 'v8' : 'external');
    expect(observe('out.b = o.backing;', {}).b).toBe('external');
    expect(observe('out.b = o.backing;', { OFFHEAP_BACKING: 'v8' }).b).toBe('v8');
  }, TIMEOUT);

  it('switches to v8 by itself where external ArrayBuffers are refused, and every allocator works', () => {
    const r = spawnSync(process.execPath, [join(root, 'scripts/smoke.cjs')], {
      cwd: root, encoding: 'utf8', timeout: TIMEOUT,
      env: { ...process.env, OFFHEAP_BACKING: '', OFFHEAP_TEST_REFUSE_EXTERNAL: '1', OFFHEAP_SMOKE_LIB: workerLib() },
    });
    expect(r.stdout, r.stderr).toContain('backing v8');
    expect(r.stdout).toMatch(/^smoke: 7 passed, 0 failed$/m);
    expect(r.status).toBe(0);
  }, TIMEOUT);

  it('fails with a typed error where external buffers are refused and OFFHEAP_BACKING=external forces them', () => {
    const out = observe(`
      out.b = o.backing;
      for (const make of [() => new o.Arena({ maxBytes: 65536 }), () => new o.ObjectPool({ slotSize: 8, capacity: 8 }), () => new o.SlabAllocator()]) {
        try { make(); out.made = true; } catch (e) { (out.errs ??= []).push([e instanceof o.OffheapError, e.code, /refuses external ArrayBuffers/.test(e.message)]); }
      }
    `, { OFFHEAP_BACKING: 'external', OFFHEAP_TEST_REFUSE_EXTERNAL: '1' });
    expect(out.b).toBe('external');
    expect(out.made).toBeUndefined();
    expect(out.errs).toEqual(Array(3).fill([true, 'ERR_OFFHEAP_OS_FAILURE', true]));
  }, TIMEOUT);
});

describe('the v8 backing', () => {
  const v8 = { OFFHEAP_BACKING: 'v8' };

  it('gives pools and slabs SharedArrayBuffers and arenas ArrayBuffers', () => {
    const out = observe(`
      const a = new o.Arena({ maxBytes: 1 << 20 }), p = new o.ObjectPool({ slotSize: 16, capacity: 64 }), s = new o.SlabAllocator();
      out.kinds = [a.buffer, p.buffer, s.buffer].map((b) => b.constructor.name);
      for (const x of [a, p, s]) x.destroy();
    `, v8);
    expect(out.kinds).toEqual(['ArrayBuffer', 'SharedArrayBuffer', 'SharedArrayBuffer']);
  }, TIMEOUT);

  // Detaching V8's own buffer would free it under I/O still writing into a view (a crash under crypto.randomFill).
  it('gives resident pages back at destroy and detaches no view (they read zeros)', () => {
    const out = observe(`
      const MiB = 1 << 20;
      const rss = () => process.memoryUsage().rss;
      const a = new o.Arena({ maxBytes: 256 * MiB });
      const av = a.alloc(64 * MiB); av.fill(1);
      const before = rss();
      a.destroy();
      out.arenaFreed = before - rss();
      out.arenaView = [av.length, av[0], av[av.length - 1]];
      const p = new o.ObjectPool({ slotSize: 4096, capacity: 16384 });
      const views = []; for (let i = 0; i < 16384; i++) { const v = p.alloc(); v.fill(2); views.push(v); }
      const pb = rss();
      p.destroy();
      out.poolFreed = pb - rss();
      out.poolView = [views[5].length, views[5][0], views[5][4095]];
    `, v8);
    // 64 MiB were resident in each; at least half must be gone at once.
    expect(out.arenaFreed).toBeGreaterThan(32 * 1024 * 1024);
    expect(out.poolFreed).toBeGreaterThan(32 * 1024 * 1024);
    expect(out.arenaView).toEqual([64 * 1024 * 1024, 0, 0]); // not detached: reads zeros
    expect(out.poolView).toEqual([4096, 0, 0]); // a SharedArrayBuffer cannot be: the view reads zeros
  }, TIMEOUT);

  it('makes a transfer of an arena buffer a copy, and a clone of a pool view share the memory', () => {
    const out = observe(`
      const a = new o.Arena({ maxBytes: 1 << 20 });
      const v = a.alloc(8); v.fill(9);
      // Node 20 makes the transfer of an untransferable buffer a copy; Node 22 and later refuse it.
      let moved;
      try { moved = structuredClone(a.buffer, { transfer: [a.buffer] }); } catch (e) { out.refused = e.name; }
      if (moved === undefined) moved = structuredClone(a.buffer);
      out.transfer = [a.buffer.byteLength, moved.byteLength, new Uint8Array(moved)[v.byteOffset]];
      v.fill(10);
      out.copy = new Uint8Array(moved)[v.byteOffset];
      const p = new o.ObjectPool({ slotSize: 16, capacity: 64 });
      const pv = p.alloc();
      const clone = structuredClone(pv);
      pv.fill(7);
      out.clone = [clone.length, clone.buffer.constructor.name, clone[0]];
      a.destroy(); p.destroy();
    `, v8);
    expect(out.transfer).toEqual([1 << 20, 1 << 20, 9]); // still attached; the "moved" one is a copy
    if (Number(process.versions.node.split('.')[0]) >= 22) expect(out.refused).toBe('DataCloneError');
    else expect(out.refused).toBeUndefined();
    expect(out.copy).toBe(9);
    expect(out.clone).toEqual([16, 'SharedArrayBuffer', 7]);
  }, TIMEOUT);

  it('puts the memory in share() descriptors and refuses what is not it', () => {
    const out = observe(`
      const p = new o.ObjectPool({ slotSize: 16, capacity: 64 });
      const d = p.share();
      out.memory = d.memory.map((m) => m.constructor.name);
      const codes = [];
      for (const memory of ['x', [new ArrayBuffer(8)], [new SharedArrayBuffer(64 * 16)]]) {
        try { o.ObjectPool.attach({ ...d, memory }); codes.push('attached'); } catch (e) { codes.push(e.code); }
      }
      out.codes = codes;
      const s = new o.SlabAllocator();
      out.slab = s.share().memory.length;
      p.destroy(); s.destroy();
    `, v8);
    expect(out.memory).toEqual(['SharedArrayBuffer', 'SharedArrayBuffer']);
    expect(out.codes).toEqual(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_TYPE', 'ERR_OFFHEAP_DESTROYED']);
    expect(out.slab).toBe(2);
  }, TIMEOUT);

  it('counts its reservations until destroy (the state words until collected) and honours injected faults', () => {
    const out = observe(`
      const { native } = require(${JSON.stringify(join(workerLib(), 'native.js'))});
      const base = native.liveReservations();
      let a = new o.Arena({ maxBytes: 1 << 20 });
      out.during = native.liveReservations() - base;
      a.destroy();
      out.after = native.liveReservations() - base;
      a = null;
      for (let i = 0; i < 20 && native.liveReservations() !== base; i++) { gc(); await new Promise((r) => setImmediate(r)); }
      out.collected = native.liveReservations() - base;
      native.injectFaults(1, 0);
      try { new o.Arena({ maxBytes: 1 << 20 }); } catch (e) { out.fault = e.code; }
    `, v8);
    expect(out.during).toBe(2); // the region and the arena's state words
    expect(out.after).toBe(1);  // the state words go with the arena object
    expect(out.collected).toBe(0);
    expect(out.fault).toBe('ERR_OFFHEAP_OS_FAILURE');
  }, TIMEOUT);
});
