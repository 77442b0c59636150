"""cart service."""

from .api.routes import router
from .runtime import runtime

runtime.app.include_router(router)
app = runtime.app
