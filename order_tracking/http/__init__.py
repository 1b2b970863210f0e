"""HTTP: the order service (``service``, ``track-order serve``), the reference API of the four
systems (``backend_api``, ``track-order backends serve``) and what both share to run under
uvicorn (``asgi``)."""
