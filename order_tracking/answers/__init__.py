"""Is the answer right? Each answer is checked against the facts its own tools returned for
the order it was asked about.

``fold`` reads an answer as the check does (look-alike letters as ASCII, bounded length);
``engine`` is RE2, the linear-time engine every pattern runs on; ``patterns`` and ``keys`` are
the words and keys claims are found by; ``structured``, ``claims`` and ``counts`` find them
(JSON, tables and ``key: value`` lines; ids, dates, amounts, statuses, carriers, references;
counts by the field they claim); ``ids`` finds order ids (``ORDER_ID_PATTERN`` too); ``facts``
holds the results of the lookups for the asked order; ``check`` compares; ``policy`` applies
``ANSWER_CHECK`` (flag, replace, off), off the event loop within the deadline, and records the
verdict in the trace; ``plugin`` does the same for ``adk web``'s chat. ``evaluation``
(``track-order eval``) scores models on fixed cases and sits above the run: it runs orders.
"""
