"""Records and value types the store maps to rows, one module per concern.

A leaf: these modules import only the standard library, `core.models` and each other, never
the store or a feature, so both can depend on them without a cycle.
"""
