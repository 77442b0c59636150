"""The fault proxy lives in netshop/tcpproxy.py (the chaos suite uses it too)."""

from netshop.tcpproxy import FaultProxy

__all__ = ["FaultProxy"]
