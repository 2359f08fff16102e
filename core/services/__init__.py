"""The use cases, one module per concern; `core.wiring.Services` holds one of each."""
