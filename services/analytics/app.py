"""analytics worker. One Lua script applies an event: it sets the processed marker and every counter
atomically, so a redelivered event changes nothing."""

from __future__ import annotations

import orjson

from services.common.app import ServiceRuntime
from services.common.worker import start_consuming

runtime = ServiceRuntime("analytics")
RECENT = 50
MARKER_TTL = 30 * 24 * 3600

# KEYS: marker, revenue (hash by currency), orders, units, recent, order-totals, copurchase:<pid> for each line
# ARGV: marker ttl, total, recent json, order id, recent size, currency, then pid, qty pairs
APPLY = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[6], ARGV[2])
redis.call('INCR', KEYS[3])
redis.call('LPUSH', KEYS[5], ARGV[3])
redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[5]) - 1)
redis.call('HSET', KEYS[6], ARGV[4], ARGV[2])
local n = (#ARGV - 6) / 2
for i = 0, n - 1 do
  local pid = ARGV[7 + 2 * i]
  redis.call('HINCRBY', KEYS[4], pid, ARGV[8 + 2 * i])
  for j = 0, n - 1 do
    if i ~= j then redis.call('ZINCRBY', KEYS[7 + i], 1, ARGV[7 + 2 * j]) end
  end
end
return 1
"""


def keys_for(payload: dict) -> list[str]:
    k = runtime.identity.key
    pids = [line["product_id"] for line in payload["lines"]]
    return [k("processed", payload["event_id"]), k("revenue"), k("orders"), k("units"), k("recent"),
            k("order-totals")] + [k("copurchase", p) for p in pids]


async def handle(event, sub, payload, message) -> str:
    await runtime.faults.hit(f"consume:{sub.queue}")
    redis = runtime.require_redis()
    recent = orjson.dumps({"order_id": payload["order_id"], "total_minor": payload["total_minor"], "currency": payload["currency"],
                           "units": sum(int(line["quantity"]) for line in payload["lines"]), "at": payload["created_at"]}).decode()
    argv: list = [MARKER_TTL, int(payload["total_minor"]), recent, payload["order_id"], RECENT, payload["currency"]]
    for line in payload["lines"]:
        argv += [line["product_id"], int(line["quantity"])]
    applied = await redis.eval(APPLY, len(keys_for(payload)), *keys_for(payload), *argv)
    return "processed" if applied else "duplicate"


start_consuming(runtime, handle)
app = runtime.app
