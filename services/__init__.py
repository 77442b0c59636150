"""NetShop's services: one package per model service plus the shared library in `services.common`."""
