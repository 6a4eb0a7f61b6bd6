-- POST the JSON file OFFHEAP_WRK_BODY (about 2 KiB) on every request.
dofile(os.getenv('OFFHEAP_WRK_REPORT'))
local f = assert(io.open(os.getenv('OFFHEAP_WRK_BODY'), 'rb'))
wrk.method = 'POST'
wrk.body = f:read('*a')
f:close()
wrk.headers['Content-Type'] = 'application/json'
