-- GET the URL's path on every request.
dofile(os.getenv('OFFHEAP_WRK_REPORT'))
