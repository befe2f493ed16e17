"""Measured QA for candidates: colour guard, style similarity, composition drift, identity, technical checks, ranking.

Used by the run engine (J04-J06), post-process (J07), kroma qa compare and the review page.
"""
