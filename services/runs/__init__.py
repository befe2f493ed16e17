"""Runs (J04-J06, R01): plan with cost, the durable queue, the executor, what a run commits, status, the run log, per-candidate QA.

Used by the Runs page, kroma run, the API, the copilot and the scheduler's run worker.
"""
