from pathlib import Path

from services.common.app import ServiceRuntime

runtime = ServiceRuntime("auth", migrations=Path(__file__).parent / "migrations")
