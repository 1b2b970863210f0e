"""Is the answer right? Each answer is checked against the facts its own tools returned.

``patterns`` finds claims in text (order ids, statuses, dates, money, carriers, tracking
numbers, counts); ``check`` compares them with the tool results; ``policy`` applies
``ANSWER_CHECK`` (flag, replace, off) and records the verdict in the trace; ``plugin`` does the
same for ``adk web``'s chat. ``evaluation`` (``track-order eval``) scores models on fixed cases
and sits above the run: it runs orders.
"""
