"""``track-order``: the commands (``main`` and one module per group), several orders at once
(``batch``), what the terminal shows (``output``) and the ``--workers`` processes (``pool``).
"""
