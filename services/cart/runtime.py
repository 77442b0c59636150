from services.common.app import ServiceRuntime

runtime = ServiceRuntime("cart")
