"""Exports (J08): ZIP/CBZ/PDF packages with manifests and checksums, verification, and reproduction from a manifest.

Used by pages/export.py, kroma export, the API and the copilot's export instruction.
"""
