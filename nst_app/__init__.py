"""NST Studio's application layer: what every front end shares, with no Qt in it.

history (every result, from any front end), presets and the bundled samples, the batch queue,
the executors (in-process and Ray) and the command line. The engine (nst_core) knows nothing of
this layer; the window (nst_gui) builds on it.
"""
