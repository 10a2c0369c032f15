"""Stand-in for DRAGONS' gemini_instruments, for internal/fscheck only.

FitsStorage imports it only to register the instruments' AstroData classes for
its own ingest, which the check never runs (see ../astrodata/__init__.py).
"""
