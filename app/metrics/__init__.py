"""Prometheus metrics: the instruments other code calls (``app.metrics.instruments``), the multiprocess
directory the parent prepares before forking workers (``app.metrics.multiproc``) and ``GET /metrics``
(``app.metrics.endpoint``).

Importing this package imports nothing of prometheus-client: the parent must point
``PROMETHEUS_MULTIPROC_DIR`` at its directory before the first instrument exists.
"""
