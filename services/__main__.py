"""`python -m services serve`: run the service named by NETSHOP_SERVICE on its model port."""

from __future__ import annotations

import importlib
import sys


def _leave_out_unused_crypto() -> None:
    """Footprint (bench/load.py): services sign and verify HS256 tokens only (HMAC, inside PyJWT), yet PyJWT imports
    `cryptography` for RSA/EC keys whenever it is installed: ~8 MiB in each service process (15 of them). Marked
    absent before anything imports PyJWT, it stays out; every decode pins algorithms=["HS256"], so a token with
    another algorithm is refused exactly as before."""
    sys.modules.setdefault("cryptography", None)  # type: ignore[arg-type]


def main(argv: list[str]) -> int:
    if argv[:1] not in (["serve"], []):
        print("usage: python -m services serve   (NETSHOP_SERVICE selects the service)", file=sys.stderr)
        return 2
    _leave_out_unused_crypto()
    import uvicorn

    from .common.identity import Identity
    from .common.settings import Settings

    settings = Settings()  # type: ignore[call-arg]
    identity = Identity.load(settings)
    module = importlib.import_module(f"services.{identity.name.replace('-', '_')}.app")
    uvicorn.run(
        module.app, host=settings.bind, port=identity.port, loop="uvloop", http="httptools", lifespan="on",
        access_log=False, log_config=None, timeout_graceful_shutdown=10, server_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
