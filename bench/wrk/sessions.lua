-- GET /s/<id> with an id drawn uniformly from 0 .. OFFHEAP_SESSIONS-1, a
-- different random sequence per wrk thread.
dofile(os.getenv('OFFHEAP_WRK_REPORT'))
local count = tonumber(os.getenv('OFFHEAP_SESSIONS') or '1000000')
local seeded = false
request = function()
  if not seeded then
    math.randomseed(os.time() + math.floor(os.clock() * 1e6))
    seeded = true
  end
  return wrk.format('GET', '/s/' .. math.random(0, count - 1))
end
