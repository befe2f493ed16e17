"""The utility lab (U01): one-off image operations with no project, in a scratch area swept on a schedule.

Used by U01 (pages/utilities.py, kroma util); writes nothing into any project.
"""
