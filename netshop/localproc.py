"""`python -m netshop.localproc tracestore|agent PORT`: the local platform's two helper processes."""

from __future__ import annotations

import os
import sys

import uvicorn


def main() -> None:
    which, base_port = sys.argv[1], int(sys.argv[2])
    port = base_port + int(os.environ.get("NETSHOP_PORT_OFFSET", "0"))
    target = {"tracestore": "netshop.tracestore:app", "agent": "netshop.agent:app"}[which]
    uvicorn.run(target, host="127.0.0.1", port=port, loop="uvloop", http="httptools", access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
