"""Projects (J01): the project rows, their storage roots and content-addressed asset store, and the demo project.

Used by every step: J01 creates and lists projects; J02-J08 read and write assets through AssetStore.
"""
