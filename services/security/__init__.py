"""Security (J00, R02): encrypted secrets and master keys, API tokens, studio login, and the audit log of every mutation.

Used by Setup (keys), the API (tokens), the login page, and every service that mutates (audit).
"""
