"""References (J02): characters and their images, style guides, scenes with continuity, reference sets, prompt templates.

Used by J02 (references pages), J03 (bootstrap writes them) and J04-J06 (the run planner reads them).
"""
