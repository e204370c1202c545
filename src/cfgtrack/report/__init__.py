"""Renderers for parameter ages: shared text and JSON shapes, and the quarterly audit report."""
