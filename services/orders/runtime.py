from pathlib import Path

from services.common.app import ServiceRuntime

runtime = ServiceRuntime("orders", migrations=Path(__file__).parent / "migrations")
