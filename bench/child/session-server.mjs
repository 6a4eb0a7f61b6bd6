// The session-cache server of the sessions suite, one per candidate, in its own
// process:   node bench/child/session-server.mjs <candidate> <count>   (forked, IPC)
// It holds <count> sessions keyed by numeric id, about 200 bytes each: six
// numbers (id, user, created, lastSeen, hits, flags), a short string (name,
// 12..40 ASCII characters) and a small byte field (data, 96 bytes).
// GET /s/<id> reads the session and updates two fields (lastSeen, hits); one
// request in ten first replaces the session: the old one is dropped (freed,
// for the offheap candidates) and a new one stored under the same id with
// set(), which overwrites the entry (a delete() then set() leaves a deleted
// entry behind each time, and V8 rehashes the whole Map when those fill its
// spare capacity: a cost every candidate would share).
// The reply is a short JSON built from the session. Candidates, same logic:
//   objects  plain objects in a Map (data: a Buffer)
//   lru      lru-cache with max = count, the same objects
//   buffers  one 192-byte Buffer per session in a Map, fields at fixed offsets
//   pool     offheap records: a layout() over ObjectPool slots (192 bytes), Map<id, handle>, one cursor
//   slab     offheap SlabAllocator, variable size (header + name + data), Map<id, handle>
// IPC: 'start' / 'stop' around each load round ('stop' answers the round's GC
// pauses, RSS and V8 heap used), 'exit'.
import http from 'node:http';
import { gcRecorder, loadOffheap, memory } from '../measure.mjs';

const [candidate, countArg] = process.argv.slice(2);
const COUNT = Number(countArg);
const SLOT = 192;
const DATA = 96;
const NAME_MAX = 63;
// Byte layout of buffers and slab: u32 id @0, u32 user @4, f64 created @8,
// f64 lastSeen @16, u32 hits @24, u32 flags @28, u8 nameLen @32, name @33,
// data @96 (buffers) or right after the name (slab). The pool candidate has the
// same fields in a layout() (name as utf8[63]).

let seed = 0x9e3779b9;
const rand = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
};
/** The fields of a new session (the same sequence for every candidate). */
function fresh(id) {
  const r = rand();
  return { user: r % 100_000, flags: r >>> 20, name: `user-${id.toString(36)}-${'abcdefghijklmnopqrstuvwxyz0123'.slice(0, 4 + (r % 27))}`, fill: r & 255 };
}
const reply = (id, user, hits, name, d) => `{"id":${id},"user":${user},"hits":${hits},"name":"${name}","d":${d}}`;

function latin1(u8, off, n) {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(u8[off + i]);
  return s;
}

async function makeStore() {
  if (candidate === 'objects' || candidate === 'lru') {
    const make = (id, now) => {
      const f = fresh(id);
      const data = Buffer.allocUnsafe(DATA).fill(f.fill);
      return { id, user: f.user, created: now, lastSeen: now, hits: 0, flags: f.flags, name: f.name, data };
    };
    let map;
    if (candidate === 'objects') map = new Map();
    else {
      let LRUCache;
      try {
        ({ LRUCache } = await import('lru-cache'));
      } catch (e) {
        return { missing: `lru-cache not installed (npm install): ${e.message.split('\n')[0]}` };
      }
      map = new LRUCache({ max: COUNT });
    }
    return {
      insert(id, now) { map.set(id, make(id, now)); },
      replace(id, now) { map.set(id, make(id, now)); },
      touch(id, now) {
        const s = map.get(id);
        s.lastSeen = now;
        s.hits++;
        return reply(s.id, s.user, s.hits, s.name, s.data[0] + s.data[DATA - 1]);
      },
    };
  }
  if (candidate === 'buffers') {
    const map = new Map();
    const make = (id, now) => {
      const f = fresh(id);
      const b = Buffer.allocUnsafe(SLOT);
      b.writeUInt32LE(id, 0);
      b.writeUInt32LE(f.user, 4);
      b.writeDoubleLE(now, 8);
      b.writeDoubleLE(now, 16);
      b.writeUInt32LE(0, 24);
      b.writeUInt32LE(f.flags, 28);
      b[32] = f.name.length;
      b.latin1Write(f.name, 33, NAME_MAX);
      b.fill(f.fill, 96, SLOT);
      return b;
    };
    return {
      insert(id, now) { map.set(id, make(id, now)); },
      replace(id, now) { map.set(id, make(id, now)); },
      touch(id, now) {
        const b = map.get(id);
        b.writeDoubleLE(now, 16);
        const hits = b.readUInt32LE(24) + 1;
        b.writeUInt32LE(hits, 24);
        return reply(b.readUInt32LE(0), b.readUInt32LE(4), hits, b.latin1Slice(33, 33 + b[32]), b[96] + b[SLOT - 1]);
      },
    };
  }
  if (candidate === 'pool') {
    const { mod, missing } = await loadOffheap('layout');
    if (missing) return { missing };
    // The session as a record: the fields of the plain object, at fixed offsets.
    const Session = mod.layout({ id: 'u32', user: 'u32', created: 'f64', lastSeen: 'f64', hits: 'u32', flags: 'u32', name: `utf8[${NAME_MAX}]`, data: `u8[${DATA}]` });
    const pool = new mod.ObjectPool({ layout: Session, capacity: COUNT + (COUNT >> 3) });
    const p = pool.record();
    const map = new Map();
    const make = (id, now) => {
      const f = fresh(id);
      const h = pool.allocHandle();
      p.at(h);
      p.id = id;
      p.user = f.user;
      p.created = now;
      p.lastSeen = now;
      p.hits = 0;
      p.flags = f.flags;
      p.name = f.name;
      p.data.fill(f.fill);
      return h;
    };
    return {
      insert(id, now) { map.set(id, make(id, now)); },
      replace(id, now) {
        pool.freeHandle(map.get(id));
        map.set(id, make(id, now));
      },
      touch(id, now) {
        p.at(map.get(id));
        p.lastSeen = now;
        const hits = ++p.hits;
        const d = p.data;
        return reply(p.id, p.user, hits, p.name, d[0] + d[DATA - 1]);
      },
    };
  }
  if (candidate === 'slab') {
    const { mod, missing } = await loadOffheap('SlabAllocator');
    if (missing) return { missing };
    const slab = new mod.SlabAllocator({ maxBytes: Math.max(64 << 20, COUNT * 512) });
    const map = new Map();
    // Variable-size values: header (32 B), name length, name, data. A handle is
    // a byte offset into slab.buffer, read through one DataView.
    let ab = slab.buffer;
    let dv = new DataView(ab);
    let u8 = new Uint8Array(ab);
    const views = () => {
      if (slab.buffer !== ab) {
        ab = slab.buffer;
        dv = new DataView(ab);
        u8 = new Uint8Array(ab);
      }
    };
    const dataAt = (h) => h + 33 + u8[h + 32];
    const make = (id, now) => {
      const f = fresh(id);
      const h = slab.allocHandle(33 + f.name.length + DATA);
      views();
      dv.setUint32(h, id, true);
      dv.setUint32(h + 4, f.user, true);
      dv.setFloat64(h + 8, now, true);
      dv.setFloat64(h + 16, now, true);
      dv.setUint32(h + 24, 0, true);
      dv.setUint32(h + 28, f.flags, true);
      u8[h + 32] = f.name.length;
      for (let i = 0; i < f.name.length; i++) u8[h + 33 + i] = f.name.charCodeAt(i);
      const d = dataAt(h);
      u8.fill(f.fill, d, d + DATA);
      return h;
    };
    return {
      insert(id, now) { map.set(id, make(id, now)); },
      replace(id, now) {
        slab.freeHandle(map.get(id));
        map.set(id, make(id, now));
      },
      touch(id, now) {
        const h = map.get(id);
        dv.setFloat64(h + 16, now, true);
        const hits = dv.getUint32(h + 24, true) + 1;
        dv.setUint32(h + 24, hits, true);
        const d = dataAt(h);
        return reply(dv.getUint32(h, true), dv.getUint32(h + 4, true), hits, latin1(u8, h + 33, u8[h + 32]), u8[d] + u8[d + DATA - 1]);
      },
    };
  }
  throw new Error(`unknown candidate ${candidate}`);
}

const store = await makeStore();
if (store.missing) {
  process.send({ missing: store.missing });
  process.exit(0);
}
const t0 = Date.now();
for (let id = 0; id < COUNT; id++) store.insert(id, t0);
const buildMs = Date.now() - t0;

let n = 0;
const server = http.createServer((req, res) => {
  const id = Number(req.url.slice(3));
  if (!(id >= 0 && id < COUNT) || !req.url.startsWith('/s/')) {
    res.statusCode = 404;
    res.end();
    return;
  }
  const now = Date.now();
  if (++n % 10 === 0) store.replace(id, now);
  const body = store.touch(id, now);
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
});
server.keepAliveTimeout = 60_000;
const gc = gcRecorder();
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port, buildMs }));
process.on('message', async (msg) => {
  if (msg === 'start') gc.start();
  else if (msg === 'stop') process.send({ gc: await gc.stop(), heapMiB: process.memoryUsage().heapUsed / 2 ** 20, ...memory() });
  else if (msg === 'exit') {
    server.close();
    process.exit(0);
  }
});
