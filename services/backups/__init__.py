"""Backups: content-addressed S3 snapshots, their target and history, retention, verify and restore.

Used by pages/backups.py, kroma backup, the API and the scheduled backup job.
"""
