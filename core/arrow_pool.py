"""Arrow's memory pool for GridHub's processes, chosen before pyarrow is first imported.

pyarrow picks its default pool (ARROW_DEFAULT_MEMORY_POOL, else mimalloc) when it loads, so the
entry points (the CLI, the DAGs' shared package, the compose file's environment) choose it
before anything imports pandas or pyarrow. This module must not import either.

Why jemalloc, measured on the 1M-row hotline ingest (`bench/bench_ingest.py --rows 1000000
--only full`), runs alternated on one machine:
  mimalloc (pyarrow's default)        85-102 s, peaks 1,332-1,401 MB (3 runs)
  jemalloc, through the environment   73-98 s,  peaks 1,231-1,292 MB (6 runs)
  the system allocator                89-90 s,  peaks 1,159 MB (2 runs)
  jemalloc, set later by pyarrow.set_memory_pool: 76-96 s, peaks 1,401-1,483 MB (3 runs)
mimalloc keeps more of what each chunk frees, and the rollup rebuild then grows on top of it.
On the 5M-row ingest the peaks were 1,261 and 1,312 MB, against 1,414-1,510 MB with mimalloc.
"""

from __future__ import annotations

import os
import sys

POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"


def choose_arrow_pool() -> None:
    """Have pyarrow allocate from jemalloc, unless the environment already names a pool.

    No effect once pyarrow is loaded; Arrow's Windows builds have no jemalloc.
    """
    if sys.platform != "win32":
        os.environ.setdefault(POOL_VARIABLE, "jemalloc")
