"""The shared service library: identity from the model, HTTP peers, datastores, bus, telemetry, errors."""
