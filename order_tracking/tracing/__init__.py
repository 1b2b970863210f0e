"""Monocle tracing: one trace per order.

``setup`` installs Monocle and the span processors (``Tracing``, ``trace_event``);
``writer`` writes one JSON file per trace (or trace part); ``export`` redacts and filters spans
on their way out; ``exporters`` builds the remote exporters (OTLP, Okahu); ``files`` reads
trace files back and ``view`` renders them (``track-order trace``). Importing this package
imports no tracing library: each module says what it needs.
"""
