"""The copilot: chat sessions, the offline and LLM interpreters, the instruction queue and the table of instruction handlers.

Used by pages/copilot.py, pages/instructions.py, kroma copilot/instructions, the API and the instruction worker.
"""
