"""HTTP delivery: how every node serves viewers and downstream nodes.

http/        sans-IO HTTP/1.1 core (httptools underneath): bytes in, requests out
server.py    the trio shell: connections, limits, timeouts, sendfile, TLS
app.py       routes, local origin / segment cache / upstream; `DeliveryApp`
paths.py     target validation before any filesystem access
objects.py   caching headers, ETag, Range, CORS, gzip for an answer
cache.py     the on-disk segment cache under a byte budget
refusals.py  cache writes refused for disk space: counted, logged once a minute
upstream.py  pull-through with request collapsing and shield -> origin failover
fill.py      an object in flight from upstream, tailed by its waiters
nodeauth.py  node-to-node request assertions signed with the enrolled key
sessions.py  viewer tokens and active-session counts
local.py     the `LocalMedia` protocol the packager implements
metrics.py   prometheus metrics, a registry per app
"""
