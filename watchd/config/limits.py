"""Transfer defaults and limits the schema and the command line share (no pydantic here:
``watchd upload`` reads them before anything else is loaded)."""

MAX_PARALLEL = 64  # more connections than this only gets a client throttled
# Each small file costs four requests in series (init, part URL, PUT, complete): over a
# link with 100 ms round trips, 32 in flight upload 100 x 1 MiB in 3.1 s where 16 took
# 4.4 s (scripts/bench, long-small); over loopback, CPU-bound, it makes no difference.
DEFAULT_CONNECTIONS = 32
