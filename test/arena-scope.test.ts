// ArenaScope: per-request arenas bound with AsyncLocalStorage, recycled,
// reset after every run, dropped when they grew too big.
import { describe, expect, it } from 'vitest';
import { Arena } from '../lib/arena';
import { ArenaScope, currentArena } from '../lib/arena-scope';
import { OffheapError } from '../lib/errors';
import { expectCode, expectCodeAsync, HOSTILE } from './helpers';

const MiB = 1024 * 1024;
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('ArenaScope options', () => {
  it('applies defaults', () => {
    const s = new ArenaScope({ maxBytes: 4 * MiB });
    expect(s).toMatchObject({ maxBytes: 4 * MiB, keep: 16, maxRetainedBytes: MiB });
    expect(s.name).toMatch(/^ArenaScope#\d+$/);
    expect(new ArenaScope({ maxBytes: 4096 }).maxRetainedBytes).toBe(4096);
    s.destroy();
  });

  // Bad or unknown options are typed errors at construction, not at the first request.
  it('rejects bad and unknown options', () => {
    for (const bad of [undefined, null, 5, 'x']) expectCode(() => new ArenaScope(bad as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    for (const v of HOSTILE) {
      const code = typeof v === 'number' ? 'ERR_OUT_OF_RANGE' : 'ERR_INVALID_ARG_TYPE';
      expectCode(() => new ArenaScope({ maxBytes: v as number }), code);
      expectCode(() => new ArenaScope({ maxBytes: MiB, keep: v as number }), code);
      expectCode(() => new ArenaScope({ maxBytes: MiB, maxRetainedBytes: v as number }), code);
    }
    expectCode(() => new ArenaScope({ maxBytes: MiB, keep: 70000 }), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => new ArenaScope({ maxBytes: MiB, align: 3 }), 'ERR_OUT_OF_RANGE', RangeError);
    expectCode(() => new ArenaScope({ maxBytes: MiB, debug: 'on' as never }), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => new ArenaScope({ maxBytes: MiB, name: 1 as never }), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => new ArenaScope({ maxBytes: MiB, keepAlive: 1 } as never), 'ERR_INVALID_ARG_TYPE', TypeError);
  });
});

describe('ArenaScope.run', () => {
  it('lends an arena that currentArena() finds, and returns fn’s value', () => {
    const s = new ArenaScope({ maxBytes: MiB, name: 'http' });
    const got = s.run((arena) => {
      expect(arena).toBeInstanceOf(Arena);
      expect(currentArena()).toBe(arena);
      expect(arena.name).toBe('http/1');
      return 42;
    });
    expect(got).toBe(42);
    expectCode(() => currentArena(), 'ERR_OFFHEAP_NO_SCOPE', OffheapError);
    s.destroy();
  });

  // The arena is reset after each run and reused by the next.
  it('resets and recycles the arena', () => {
    const s = new ArenaScope({ maxBytes: MiB });
    const first = s.run((a) => {
      a.alloc(1000);
      return a;
    });
    expect(first.used).toBe(0);
    expect(s.idle).toBe(1);
    const second = s.run((a) => {
      expect(a.used).toBe(0);
      return a;
    });
    expect(second).toBe(first);
    expect(s.stats()).toEqual({ created: 1, dropped: 0, idle: 1, lent: 0 });
    s.destroy();
  });

  // Async: the arena follows fn across awaits and timers, and is reset only
  // once the promise settles, fulfilled or rejected.
  it('binds the arena across awaits and resets when the promise settles', async () => {
    const s = new ArenaScope({ maxBytes: MiB });
    let lent!: Arena;
    const p = s.run(async (a) => {
      lent = a;
      a.alloc(64).fill(1);
      await tick(2);
      const viaTimer = await new Promise<Arena>((r) => setTimeout(() => r(currentArena()), 1));
      expect(viaTimer).toBe(a);
      expect(currentArena().used).toBe(64);
      return 'ok';
    });
    expect(s.lent).toBe(1);
    expect(lent.used).toBe(64);
    expect(await p).toBe('ok');
    expect(lent.used).toBe(0);
    expect(s.lent).toBe(0);
    await expect(s.run(async (a) => {
      a.alloc(10);
      await tick();
      throw new Error('request failed');
    })).rejects.toThrow('request failed');
    expect(lent.used).toBe(0);
    expect(s.idle).toBe(1);
    s.destroy();
  });

  // The isolation claim: many concurrent async requests, each writing its
  // own id into its memory; none ever sees another's arena or bytes.
  it('never shows one request another request’s arena', async () => {
    const s = new ArenaScope({ maxBytes: MiB, keep: 8 });
    const inUse = new Set<Arena>();
    let overlaps = 0;
    const request = (id: number) => s.run(async (arena) => {
      if (inUse.has(arena)) overlaps++;
      inUse.add(arena);
      const views: Buffer[] = [];
      for (let step = 0; step < 5; step++) {
        views.push(currentArena().alloc(16 + ((id * 7 + step) % 200)).fill(id & 0xff));
        await tick(id % 3);
        expect(currentArena()).toBe(arena);
        for (const v of views) expect(v.every((b) => b === (id & 0xff))).toBe(true);
      }
      inUse.delete(arena);
      return id;
    });
    const ids = Array.from({ length: 300 }, (_, i) => i);
    expect(await Promise.all(ids.map(request))).toEqual(ids);
    expect(overlaps).toBe(0);
    expect(s.idle).toBeLessThanOrEqual(8);
    expect(s.stats().lent).toBe(0);
    s.destroy();
  });

  // Nested runs get arenas of their own; the outer one is current again after.
  it('nests', () => {
    const s = new ArenaScope({ maxBytes: MiB });
    s.run((outer) => {
      s.run((inner) => {
        expect(inner === outer).toBe(false); // (deep-equal tools read the unshareable marker: compare identities)
        expect(currentArena()).toBe(inner);
      });
      expect(currentArena()).toBe(outer);
    });
    s.destroy();
  });

  it('keeps at most `keep` idle arenas', async () => {
    const s = new ArenaScope({ maxBytes: MiB, keep: 2 });
    await Promise.all(Array.from({ length: 5 }, () => s.run(() => tick(1))));
    expect(s.stats()).toMatchObject({ created: 5, dropped: 3, idle: 2 });
    s.destroy();
  });

  // Protobuf's lesson: an arena that grew for one big request is not kept.
  it('drops an arena that grew past maxRetainedBytes', () => {
    const s = new ArenaScope({ maxBytes: 8 * MiB, maxRetainedBytes: 256 * 1024 });
    let view!: Buffer;
    const big = s.run((a) => {
      view = a.alloc(MiB).fill(1);
      return a;
    });
    expect(big.destroyed).toBe(true);
    expect(view.every((x) => x === 0)).toBe(true); // its pages went with it (views read zeros)
    expect(s.idle).toBe(0);
    const small = s.run((a) => {
      a.alloc(1000);
      return a;
    });
    expect(small.destroyed).toBe(false);
    expect(s.idle).toBe(1);
    s.destroy();
  });

  // Deferred cleanups run when the request ends; a cleanup's error fails the
  // request only when fn itself succeeded.
  it('runs cleanups at the end of the run and reports their errors', async () => {
    const s = new ArenaScope({ maxBytes: MiB });
    const log: string[] = [];
    s.run((a) => a.defer(() => log.push('closed')));
    expect(log).toEqual(['closed']);
    expect(() => s.run((a) => a.defer(() => {
      throw new Error('cleanup');
    }))).toThrow('cleanup');
    expect(() => s.run((a) => {
      a.defer(() => {
        throw new Error('cleanup');
      });
      throw new Error('handler');
    })).toThrow('handler');
    await expect(s.run(async (a) => {
      a.defer(() => log.push('async closed'));
      await tick();
    })).resolves.toBeUndefined();
    expect(log).toEqual(['closed', 'async closed']);
    expect(s.idle).toBe(1); // every arena came back
    s.destroy();
  });

  // A handler that destroys its arena is not a problem for the scope.
  it('copes with fn destroying its arena', () => {
    const s = new ArenaScope({ maxBytes: MiB });
    s.run((a) => a.destroy());
    expect(s.idle).toBe(0);
    s.run((a) => expect(a.destroyed).toBe(false));
    s.destroy();
  });

  it('rejects a non-function and runs after destroy', async () => {
    const s = new ArenaScope({ maxBytes: MiB });
    expectCode(() => s.run(1 as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    let lent!: Arena;
    const pending = s.run(async (a) => {
      lent = a;
      await tick(2);
    });
    s.run(() => undefined);
    s[Symbol.dispose]();
    expect(s.idle).toBe(0);
    expectCode(() => s.run(() => 1), 'ERR_OFFHEAP_DESTROYED', OffheapError);
    await pending;
    expect(lent.destroyed).toBe(true); // destroyed when its run ended
    await expectCodeAsync(async () => s.run(async () => 1), 'ERR_OFFHEAP_DESTROYED');
  });

  it('is not shareable', () => {
    const s = new ArenaScope({ maxBytes: MiB });
    expectCode(() => structuredClone(s), 'ERR_OFFHEAP_NOT_SHAREABLE', OffheapError);
    s.run((a) => expectCode(() => structuredClone(a), 'ERR_OFFHEAP_NOT_SHAREABLE', OffheapError));
    s.destroy();
  });
});
