"""auth service."""

import logging

from services.common.settings import DEV_JWT_SECRET

from .api.routes import router
from .runtime import runtime

if runtime.settings.jwt_secret.get_secret_value() == DEV_JWT_SECRET and runtime.settings.runtime == "kubernetes":
    raise SystemExit("NETSHOP_JWT_SECRET must come from the Kubernetes Secret in a cluster")
if runtime.settings.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
    logging.getLogger("netshop.auth").warning("using the local development JWT secret")

runtime.app.include_router(router)
app = runtime.app
