"""The models agents talk to: LiteLLM wiring (``gateway``), the built-in offline model
(``offline``), the guard that meters each call (``meter``) and what stands between an agent and
its model when things fail (``resilience``: retries, breakers, fallbacks, budgets)."""
