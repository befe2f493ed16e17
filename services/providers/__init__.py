"""Providers (J00, R02): the provider accounts, the adapters (local, OpenAI Images, ComfyUI) and the registry that builds them.

Used by Setup, every run (J04-J06), kroma generate, and the utility lab.
"""
