"""Running it: logs, metrics, the hourly spend limit, and the process's life.

``logs`` (human or JSON lines on stderr, ``say``), ``metrics`` (Prometheus), ``spend_limit``
(a rolling hour of tokens and cost), ``watch`` (metrics and the limit together, as a run sees
them), ``lifecycle`` (exit codes, signals, shutting tracing down).
"""
