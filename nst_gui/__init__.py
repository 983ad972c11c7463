"""NST Studio's window (PySide6). It asks `nst_core` for all work and does no tensor maths."""
