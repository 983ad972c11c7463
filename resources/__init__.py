"""Bundled resources of NST Studio (sample images, presets, icons), installed as `nst_resources`."""
