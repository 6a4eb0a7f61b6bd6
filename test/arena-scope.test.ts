// ArenaScope: per-request arenas bound with AsyncLocalStorage, recycled,
// reset after every run, dropped when they grew too big.
import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import http from 'node:http';
import { PassThrough, Writable } from 'node:stream';
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
    expect(s.stats()).toEqual({
      lent: 0, kept: 1, reserved: 1, lentBytes: 0, keptBytes: first.committed, reservedBytes: MiB,
      created: 1, dropped: 0, decommitted: 0,
    });
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
    expect(s.stats()).toMatchObject({ created: 5, dropped: 3, kept: 2, reserved: 2 });
    s.destroy();
  });

  // An arena that grew past maxRetainedBytes is decommitted down to it and
  // kept: destroying it made every big request pay a new reservation.
  it('decommits an arena that grew past maxRetainedBytes and keeps it', () => {
    const s = new ArenaScope({ maxBytes: 8 * MiB, maxRetainedBytes: 256 * 1024 });
    let view!: Buffer;
    const big = s.run((a) => {
      view = a.alloc(MiB).fill(7);
      return a;
    });
    expect(big.destroyed).toBe(false);
    expect(big.committed).toBeLessThanOrEqual(256 * 1024);
    expect(view[MiB / 2]).toBe(0); // the pages above the limit went back to the OS (a byte inside a whole page: V8-owned memory need not start on one)
    expect(s.stats()).toMatchObject({ kept: 1, created: 1, dropped: 0, decommitted: 1 });
    expect(s.run((a) => a)).toBe(big);
    s.destroy();
  });

  // Requests that outgrow the retain limit reuse one reservation.
  it('makes no new reservation for requests that outgrow maxRetainedBytes', () => {
    const s = new ArenaScope({ maxBytes: 4 * MiB, maxRetainedBytes: 64 * 1024 });
    for (let i = 0; i < 300; i++) s.run((a) => a.alloc(256 * 1024).fill(i & 0xff));
    expect(s.stats()).toMatchObject({ created: 1, reserved: 1, decommitted: 300 });
    expect(s.stats().keptBytes).toBeLessThanOrEqual(64 * 1024);
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

describe('ArenaScope leases', () => {
  // A thenable that settles twice once gave the arena back twice (lent -1),
  // so the next two requests shared one arena.
  it('gives the arena back once when a thenable settles twice', async () => {
    const s = new ArenaScope({ maxBytes: MiB });
    const twice = { then(ok: (v: string) => void, fail: (e: unknown) => void) { ok('a'); ok('b'); fail(new Error('late')); } };
    await expect(s.run(() => twice)).resolves.toBe('a');
    expect(s.stats()).toMatchObject({ lent: 0, kept: 1 });
    let a1!: Arena;
    let a2!: Arena;
    await Promise.all([s.run(async (a) => { a1 = a; await tick(1); }), s.run(async (a) => { a2 = a; await tick(1); })]);
    expect(a1 === a2).toBe(false);
    expect(s.stats()).toMatchObject({ lent: 0, kept: 2 });
    s.destroy();
  });

  // A `then` getter that throws once left the arena lent for ever.
  it('gives the arena back when reading `then` throws, or `then` itself throws', async () => {
    const s = new ArenaScope({ maxBytes: MiB });
    const getterThrows = { get then(): never { throw new Error('getter'); } };
    expect(() => s.run(() => getterThrows)).toThrow('getter');
    expect(s.lent).toBe(0);
    const thenThrows = { then() { throw new Error('then'); } };
    await expect(s.run(() => thenThrows)).rejects.toThrow('then');
    expect(s.lent).toBe(0);
    expect(() => s.run(() => { throw new Error('sync'); })).toThrow('sync');
    expect(s.stats()).toMatchObject({ lent: 0, kept: 1, created: 1 });
    s.destroy();
  });

  // Adopted as a native promise adopts: a thenable resolved with a pending
  // promise keeps the lease until that one settles.
  it('holds the lease while a thenable adopts a pending promise', async () => {
    const s = new ArenaScope({ maxBytes: MiB });
    let finish!: () => void;
    const inner = new Promise<void>((r) => (finish = r));
    const p = s.run(() => ({ then(ok: (v: unknown) => void) { ok(inner); } }));
    await tick(1);
    expect(s.lent).toBe(1);
    finish();
    await p;
    expect(s.lent).toBe(0);
    s.destroy();
  });

  // A timer that outlived its request once got the next request's arena.
  it('throws ERR_OFFHEAP_NO_SCOPE in a timer or callback that outlived its lease', async () => {
    const s = new ArenaScope({ maxBytes: MiB, keep: 1 });
    const late: Promise<unknown>[] = [];
    const first = await s.run(async (a) => {
      late.push(new Promise((r) => setTimeout(() => r(attempt(currentArena)), 5)));
      late.push(tick(5).then(() => attempt(currentArena)));
      return a;
    });
    // The same arena now serves another request while the late callbacks run.
    const results = await s.run(async (a) => {
      expect(a).toBe(first);
      return Promise.all(late);
    });
    for (const r of results) expect((r as OffheapError).code).toBe('ERR_OFFHEAP_NO_SCOPE');
    expect(s.lent).toBe(0);
    s.destroy();
  });
});

/** The error fn throws, or its value. */
function attempt(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (err) {
    return err;
  }
}

describe('ArenaScope.run(fn, { until })', () => {
  // The lease waits for the response: a view passed to end() is not reused before it is flushed.
  it('holds the lease until the stream has finished', async () => {
    const s = new ArenaScope({ maxBytes: MiB });
    const chunks: Buffer[] = [];
    let flush!: () => void;
    const res = new Writable({
      write(chunk: Buffer, _enc, cb) {
        flush = () => {
          chunks.push(Buffer.from(chunk));
          cb();
        };
      },
    });
    const value = s.run((a) => {
      res.end(a.alloc(4).fill(9));
      return 'sent';
    }, { until: res });
    expect(value).toBe('sent');
    expect(s.lent).toBe(1); // fn is done, the write is not
    await tick(1);
    expect(s.lent).toBe(1);
    flush();
    await once(res, 'finish');
    await tick();
    expect(s.lent).toBe(0);
    expect(chunks[0]).toEqual(Buffer.from([9, 9, 9, 9]));
    s.destroy();
  });

  // Both conditions: a stream that finished first waits for fn's promise.
  it('holds the lease until fn has settled when the stream finished first', async () => {
    const s = new ArenaScope({ maxBytes: MiB });
    const res = new PassThrough();
    res.resume();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const p = s.run(async () => {
      res.end('x');
      await gate;
      expect(currentArena().used).toBe(0);
    }, { until: res });
    await once(res, 'finish');
    await tick(1);
    expect(s.lent).toBe(1);
    open();
    await p;
    expect(s.lent).toBe(0);
    s.destroy();
  });

  // An aborted response (destroyed, its end callback never fires) gives the arena back.
  it('ends the lease when the stream is destroyed or fails', async () => {
    const s = new ArenaScope({ maxBytes: MiB });
    const destroyed = new PassThrough();
    s.run(() => undefined, { until: destroyed });
    destroyed.destroy();
    const failed = new PassThrough();
    failed.on('error', () => {});
    s.run(() => undefined, { until: failed });
    failed.destroy(new Error('reset'));
    const already = new PassThrough();
    already.destroy();
    s.run(() => undefined, { until: already });
    await tick(1);
    expect(s.lent).toBe(0);
    s.destroy();
  });

  // An http.ServerResponse is followed by its 'close' (after 'finish', or on an abort), not stream.finished().
  it('holds the lease of an http.ServerResponse until it closed: sent, aborted, or closed before run()', async () => {
    const s = new ArenaScope({ maxBytes: MiB });
    const lentAtFinish: number[] = [];
    let seen!: () => void;
    let ranAfterClose!: () => void;
    const closedRun = new Promise<void>((r) => (ranAfterClose = r));
    const server = http.createServer((req, res) => {
      if (req.url === '/sent') {
        res.on('finish', () => lentAtFinish.push(s.lent));
        s.run((a) => res.end(a.alloc(5).fill(0x61)), { until: res });
        return;
      }
      if (req.url === '/abort') s.run(() => undefined, { until: res }); // never answered: the client goes away
      else {
        res.on('close', () => {
          s.run((a) => expect(a.used).toBe(0), { until: res }); // closed already
          ranAfterClose();
        });
      }
      seen();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      const body = await new Promise<string>((resolve, reject) => {
        http.get({ port, host: '127.0.0.1', path: '/sent' }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        }).on('error', reject);
      });
      expect(body).toBe('aaaaa');
      expect(lentAtFinish).toEqual([1]); // 'finish' came and the lease still held the reply's view
      for (const path of ['/abort', '/closed']) {
        const handled = new Promise<void>((r) => (seen = r));
        const req = http.get({ port, host: '127.0.0.1', path });
        req.on('error', () => {});
        await handled;
        req.destroy();
      }
      await closedRun;
      for (let i = 0; i < 200 && s.lent !== 0; i++) await tick(5);
      expect(s.stats()).toMatchObject({ lent: 0, created: 1 });
    } finally {
      server.close();
      s.destroy();
    }
  });

  it('rejects a non-stream `until` and unknown options, lending nothing', () => {
    const s = new ArenaScope({ maxBytes: MiB });
    for (const bad of [1, 'res', {}, null]) {
      expectCode(() => s.run(() => 1, { until: bad as never }), 'ERR_INVALID_ARG_TYPE', TypeError);
    }
    expectCode(() => s.run(() => 1, 5 as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    expectCode(() => s.run(() => 1, { untill: new PassThrough() } as never), 'ERR_INVALID_ARG_TYPE', TypeError);
    expect(s.stats()).toMatchObject({ lent: 0, created: 0 });
    s.destroy();
  });

  // The lease usually ends after fn's outcome was delivered: a cleanup's error becomes a warning.
  it('reports a reset error after the outcome was delivered as a process warning', async () => {
    const s = new ArenaScope({ maxBytes: MiB });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const res = new PassThrough();
      expect(s.run((a) => {
        a.defer(() => {
          throw new Error('cleanup failed');
        });
        return 1;
      }, { until: res })).toBe(1);
      res.destroy();
      await tick(5);
      expect(warnings.map((w) => w.message)).toContain('cleanup failed');
      expect(s.stats()).toMatchObject({ lent: 0, kept: 1 });
    } finally {
      process.off('warning', onWarning);
      s.destroy();
    }
  });
});

describe('ArenaScope.acquire', () => {
  it('lends an arena until release(), which is idempotent and bound', () => {
    const s = new ArenaScope({ maxBytes: MiB });
    const lease = s.acquire();
    const { arena, release } = lease;
    expect(arena).toBeInstanceOf(Arena);
    expect(s.lent).toBe(1);
    arena.alloc(100);
    expect(lease.run((a) => {
      expect(a).toBe(arena);
      return currentArena();
    })).toBe(arena);
    expectCode(() => currentArena(), 'ERR_OFFHEAP_NO_SCOPE', OffheapError); // run() does not leak the binding
    release();
    release();
    lease.release();
    expect(lease.released).toBe(true);
    expect(s.stats()).toMatchObject({ lent: 0, kept: 1 });
    expect(arena.used).toBe(0);
    // The ended lease never hands out the arena again, which the next lease now owns.
    expectCode(() => lease.arena, 'ERR_OFFHEAP_NO_SCOPE', OffheapError);
    expectCode(() => lease.run(() => 1), 'ERR_OFFHEAP_NO_SCOPE', OffheapError);
    const next = s.acquire();
    expect(next.arena).toBe(arena);
    next.release();
    expect(s.lent).toBe(0);
    s.destroy();
    expectCode(() => s.acquire(), 'ERR_OFFHEAP_DESTROYED', OffheapError);
  });

  // The reservations stay at most keep + the leases in flight.
  it('keeps the reserved arenas within keep + lent', () => {
    const s = new ArenaScope({ maxBytes: MiB, keep: 3 });
    const leases = Array.from({ length: 10 }, () => s.acquire());
    expect(s.stats()).toMatchObject({ lent: 10, reserved: 10 });
    for (const l of leases) {
      l.release();
      const st = s.stats();
      expect(st.reserved).toBeLessThanOrEqual(s.keep + st.lent);
    }
    expect(s.stats()).toMatchObject({ lent: 0, kept: 3, reserved: 3, dropped: 7 });
    const again = Array.from({ length: 3 }, () => s.acquire());
    expect(s.stats().created).toBe(10); // the kept ones were reused
    for (const l of again) l.release();
    s.destroy();
  });
});
