from pathlib import Path

from services.common.app import ServiceRuntime

runtime = ServiceRuntime("users", migrations=Path(__file__).parent / "migrations")
