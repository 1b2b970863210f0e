"""The windows in Redis (``SPEND_LIMIT_STORE=redis://HOST:PORT/DB``): every process of every
machine that names the same Redis shares them, on Redis's clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._reach import Reach, shown_url, spent_of, verdict
from ._rules import WINDOWS, Hold, Limits, Refusal, Spent, nanos, refusal

__all__ = ["RedisStore"]

TIMEOUT_S = 1.0  # one round trip; a store that hangs must not hang every model call

# One script per step, run atomically by Redis. KEYS: per window (hour, day) its tokens and
# nano-dollars by slot (hashes), its slots in order (a sorted set) and its totals (a hash).
# ARGV: now ('' for Redis's own clock), the need (tokens, nano-dollars), '1' to charge it,
# then per window: seconds, slot seconds, token limit, nano-dollar limit. The room rule is
# _rules.blocked's. Numbers go back as strings (Lua numbers would be truncated).
_RESERVE = """
local function fits(limit, have, want)
  return limit == 0 or (have < limit and (have == 0 or have + want <= limit))
end
local function int(x) return string.format('%d', x) end
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local nt, nn, charge = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
local out, ok, slots = {'0', string.format('%.6f', now)}, true, {}
for w = 0, 1 do
  local tk, nk, zk, sk = KEYS[w*4+1], KEYS[w*4+2], KEYS[w*4+3], KEYS[w*4+4]
  local a = 5 + w * 4
  local secs, step = tonumber(ARGV[a]), tonumber(ARGV[a+1])
  local lt, ln = tonumber(ARGV[a+2]), tonumber(ARGV[a+3])
  for _, s in ipairs(redis.call('ZRANGEBYSCORE', zk, '-inf', math.floor((now - secs) / step))) do
    redis.call('HINCRBY', sk, 't', int(-tonumber(redis.call('HGET', tk, s) or '0')))
    redis.call('HINCRBY', sk, 'n', int(-tonumber(redis.call('HGET', nk, s) or '0')))
    redis.call('HDEL', tk, s)
    redis.call('HDEL', nk, s)
    redis.call('ZREM', zk, s)
  end
  local ut = tonumber(redis.call('HGET', sk, 't') or '0')
  local un = tonumber(redis.call('HGET', sk, 'n') or '0')
  local free = 0
  if not (fits(ln, un, nn) and fits(lt, ut, nt)) then
    ok = false
    local rt, rn = ut, un
    for _, s in ipairs(redis.call('ZRANGE', zk, 0, -1)) do
      rt = rt - tonumber(redis.call('HGET', tk, s) or '0')
      rn = rn - tonumber(redis.call('HGET', nk, s) or '0')
      if fits(ln, rn, nn) and fits(lt, rt, nt) then
        free = tonumber(s) * step + secs
        break
      end
    end
  end
  slots[w+1] = math.floor(now / step)
  for _, v in ipairs({ut, un, free, slots[w+1]}) do
    table.insert(out, int(v))
  end
end
if ok and charge then
  for w = 0, 1 do
    local tk, nk, zk, sk = KEYS[w*4+1], KEYS[w*4+2], KEYS[w*4+3], KEYS[w*4+4]
    local s = int(slots[w+1])
    redis.call('HINCRBY', tk, s, int(nt))
    redis.call('HINCRBY', nk, s, int(nn))
    redis.call('ZADD', zk, s, s)
    redis.call('HINCRBY', sk, 't', int(nt))
    redis.call('HINCRBY', sk, 'n', int(nn))
    for _, k in ipairs({tk, nk, zk, sk}) do
      redis.call('EXPIRE', k, tonumber(ARGV[5 + w * 4]) + 60)
    end
  end
end
if ok then out[1] = '1' end
return out
"""

# ARGV: the hold's hour and day slots, then the tokens and nano-dollars to add (negative when
# the call spent less than its estimate). A slot gone from its window takes nothing.
_SETTLE = """
for w = 0, 1 do
  local tk, nk, sk, s = KEYS[w*4+1], KEYS[w*4+2], KEYS[w*4+4], ARGV[w+1]
  if redis.call('HEXISTS', tk, s) == 1 then
    redis.call('HINCRBY', tk, s, ARGV[3])
    redis.call('HINCRBY', nk, s, ARGV[4])
    redis.call('HINCRBY', sk, 't', ARGV[3])
    redis.call('HINCRBY', sk, 'n', ARGV[4])
  end
end
return 1
"""


class RedisStore:
    """The windows in Redis, shared by every process that names the same Redis. ``clock``
    replaces Redis's own (tests). Each step is one round trip (at most ``TIMEOUT_S``)."""

    shared = True

    def __init__(
        self,
        limits: Limits,
        url: str,
        *,
        prefix: str = "order_tracking:spend",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.limits, self.url, self.clock = limits, url, clock
        # One hash tag: every key in one cluster slot, as a multi-key script needs.
        self._keys = [f"{{{prefix}}}:{w.seconds}:{kind}" for w in WINDOWS for kind in "tnzs"]
        self._args: list[int] = []
        for window in WINDOWS:
            max_tokens, max_usd = limits.of(window)
            self._args += [window.seconds, window.slot_s, max_tokens, nanos(max_usd)]
        self._client: Any = None
        self._scripts: Any = None
        self._reach = Reach(shown_url(url))
        self._seen = Spent()

    def _redis(self) -> tuple[Any, Any]:
        if self._client is None:
            import redis.asyncio

            self._client = redis.asyncio.Redis.from_url(
                self.url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
            )
            self._scripts = (
                self._client.register_script(_RESERVE),
                self._client.register_script(_SETTLE),
            )
        return self._client, self._scripts

    async def _step(self, need: tuple[int, int], charge: bool, what: str) -> Hold | Refusal:
        from redis.exceptions import RedisError

        _, (reserve, _) = self._redis()
        now = "" if self.clock is None else repr(self.clock())
        try:
            out = await reserve(keys=self._keys, args=[now, *need, int(charge), *self._args])
        except (RedisError, OSError, TimeoutError) as exc:
            return self._reach.failed(exc)
        self._reach.answered()
        ok, at = out[0] == b"1", float(out[1])
        numbers = [int(v) for v in out[2:]]  # per window: used tokens, nanos, frees at, slot
        used = [(numbers[0], numbers[1]), (numbers[4], numbers[5])]
        self._seen = spent_of(used, need if ok and charge else (0, 0))
        if ok:
            return Hold((numbers[3], numbers[7]), *need)
        full = verdict(self.limits, at, need, used, [numbers[2], numbers[6]])
        return refusal(full, at, what)

    async def reserve(self, tokens: int, cost: int, what: str = "model calls") -> Hold | Refusal:
        return await self._step((tokens, cost), True, what)

    async def settle(self, hold: Hold, tokens: int, cost: int) -> None:
        from redis.exceptions import RedisError

        if (tokens, cost) == (hold.tokens, hold.nanos):
            return
        _, (_, settle) = self._redis()
        args = [*hold.slots, tokens - hold.tokens, cost - hold.nanos]
        try:
            await settle(keys=self._keys, args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            self._reach.failed(exc)  # the estimate stays charged: erring on the limit's side
        else:
            self._reach.answered()

    async def check(self) -> Refusal | None:
        outcome = await self._step((0, 0), False, "new orders")
        return outcome if isinstance(outcome, Refusal) else None

    async def spent(self) -> Spent:
        await self._step((0, 0), False, "new orders")
        return self._seen

    def seen(self) -> Spent:
        return self._seen

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
