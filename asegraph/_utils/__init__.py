"""Private helpers shared by several asegraph packages (not public API).

``files``
    The one atomic-write helper: every file asegraph writes goes through it.
``jsonsafe``
    Plain-Python copies of nested results for JSON and weights-only torch files.
``figures``
    Matplotlib figures built without pyplot or a backend switch, saved atomically.
"""
