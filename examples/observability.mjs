// Observability: stats() per allocator and for the thread, and Prometheus
// metrics as text or through prom-client.
import * as offheap from 'offheap';
import promClient from 'prom-client'; // the application's own dependency

const sessions = new offheap.ObjectPool({ slotSize: 64, capacity: 1024, name: 'sessions' });
const bodies = new offheap.SlabAllocator({ maxBytes: 64 << 20, name: 'bodies' });
for (let i = 0; i < 1024; i++) sessions.allocHandle();
for (let i = 0; i < 1200; i++) bodies.allocHandle(48);

const s = sessions.stats();
console.log('sessions', s.liveCount, s.liveBytes, s.allocCount);

offheap.stats();          // the sums, plus `allocators`: how many are live
console.log('allocators', offheap.stats().allocators, 'live', offheap.stats().liveCount);
offheap.toPrometheus();   // text exposition format, one series per allocator:
// offheap_live_bytes{allocator="sessions",kind="ObjectPool"} 65536
// offheap_slab_class_live_objects{allocator="bodies",size="48"} 1200
const text = offheap.toPrometheus();
for (const line of text.split('\n')) {
  if (line === 'offheap_live_bytes{allocator="sessions",kind="ObjectPool"} 65536' ||
      line === 'offheap_slab_class_live_objects{allocator="bodies",size="48"} 1200') console.log(line);
}

// With prom-client in the application, gauges read at scrape time:
offheap.registerPrometheusCollector(promClient);
const scraped = await promClient.register.metrics();
console.log('prom-client has offheap_live_bytes', scraped.includes('offheap_live_bytes{allocator="bodies"'));
sessions.destroy();
bodies.destroy();

// Prints:
// sessions 1024 65536 1024
// allocators 2 live 2224
// offheap_live_bytes{allocator="sessions",kind="ObjectPool"} 65536
// offheap_slab_class_live_objects{allocator="bodies",size="48"} 1200
// prom-client has offheap_live_bytes true
