"""The bottom layer: what every wing may use and which knows nothing of the run.

Settings (``settings``, parsed from a mapping the composition root hands in; ``values``: the
parsers they share; ``backend_settings``: ``ORDER_BACKEND``), order ids (``order_ids``), the
result values and how they are written (``results``, ``report``), secrets to redact
(``redaction``), the listening socket and key checks both servers use (``listen``), and the
checked workarounds for the libraries we build on (``workarounds``). Nothing here imports
another wing.
"""
