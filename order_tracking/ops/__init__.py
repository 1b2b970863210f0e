"""Running it: logs, metrics, the spend limits, and the process's life.

``logs`` (human or JSON lines on stderr, ``say``), ``metrics`` (Prometheus), ``spend`` (a
rolling hour and day of tokens and cost, in this process, a SQLite file or Redis), ``watch``
(metrics and the limits together, as a run sees them), ``lifecycle`` (exit codes, signals,
shutting tracing down).
"""
