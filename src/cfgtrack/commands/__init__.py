"""CLI verbs: each module defines ``register(app)`` and keeps its heavy imports inside."""
