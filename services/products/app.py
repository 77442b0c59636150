"""products service: `python -m services serve` with NETSHOP_SERVICE=products."""

from __future__ import annotations

import logging

from opentelemetry.instrumentation.utils import suppress_instrumentation

from .api.routes import router
from .db import seed
from .runtime import runtime

log = logging.getLogger("netshop.products")


@runtime.when_ready
async def _seed(rt) -> None:
    with suppress_instrumentation():
        added = await seed(rt.db)
    if added:
        log.info("seeded %d products", added)


runtime.app.include_router(router)
app = runtime.app
