"""The defaults of a fetch's limits, declared once: the options (`cli/declarations.py`) offer
them, the settings and the Hub client (`fetch/jobs.py`, `hub/client.py`) fall back on them."""

#: Files downloaded at once (and repos listed at once): files complete one after another.
JOBS = 4
#: Connections to the Hub at once over all downloads (bench/fetch.py chose it: fewer left a
#: capped CDN connection's bandwidth unused, more gained nothing and cost memory).
CONNECTIONS = 12
#: Seconds to wait for the Hub to accept a connection or send the next bytes.
TIMEOUT_S = 10.0
#: Attempts at one byte range of a file, however much each brought (as wget's `--tries`).
TRIES = 20
#: Seconds pytest may take to collect a suite before it is stopped: a conftest.py or test module
#: that waits on import (say for a server) would otherwise hang the run.
COLLECT_TIMEOUT_S = 600.0
