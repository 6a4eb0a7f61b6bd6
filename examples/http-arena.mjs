// A per-request arena in a plain node:http server: ArenaScope.run() lends each
// request an arena, currentArena() finds it anywhere below (across awaits),
// and with { until: res } the arena is reset only once the response has
// finished or closed, so no socket still reads its memory.
import { once } from 'node:events';
import http from 'node:http';
import { ArenaScope, currentArena } from 'offheap';

const arenas = new ArenaScope({ maxBytes: 16 * 1024 * 1024, keep: 64 });

function renderRow(i) {
  const row = currentArena().alloc(64);        // no GC, freed with the request
  return row.subarray(0, row.write(`row ${i}\n`));
}

const server = http.createServer((req, res) => {
  try {
    arenas.run(() => {
      const body = currentArena().alloc(16 * 1024);
      let n = 0;
      for (let i = 0; i < 100; i++) n += renderRow(i).copy(body, n);
      res.end(body.subarray(0, n));            // a view of the arena: it lives until res is done
    }, { until: res });
  } catch (err) {
    res.destroy(err);
  }
});

// The rest drives the server from this process and stops it.
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const url = `http://127.0.0.1:${server.address().port}/`;
const bodies = await Promise.all(Array.from({ length: 20 }, () => fetch(url).then((r) => r.text())));
const lines = bodies[0].split('\n');
console.log('responses', bodies.length, 'all equal', bodies.every((b) => b === bodies[0]));
console.log(lines[0], '...', lines[99]);
server.closeAllConnections();
server.close();
await once(server, 'close');
const s = arenas.stats();
console.log('lent', s.lent, 'kept', s.kept <= 20, 'created', s.created <= 20);
arenas.destroy();

// Prints:
// responses 20 all equal true
// row 0 ... row 99
// lent 0 kept true created true
