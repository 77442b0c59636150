"""orders service: the saga API plus two background loops, the outbox relay and the reconciler."""

from .api.routes import router
from .runtime import runtime
from .saga import reconcile_forever, relay_forever


@runtime.when_ready
async def _loops(rt) -> None:
    rt.spawn(relay_forever(), "outbox-relay")
    rt.spawn(reconcile_forever(), "reconciler")


runtime.app.include_router(router)
app = runtime.app
