-- Shared by every bench/wrk script: one JSON line with the counts and the
-- latency percentiles in microseconds (wrk's histogram resolution).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'OFFHEAP_WRK {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency":{"p50":%d,"p90":%d,"p99":%d,"p99_9":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
