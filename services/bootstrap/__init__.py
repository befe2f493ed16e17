"""Bootstrap (J03): the prompt any chatbot can answer, the answer schema, the dry-run diff and the import.

Used by J03 (pages/bootstrap.py, kroma bootstrap, the API).
"""
