"""Review (J04-J06): the artist's decisions on candidates, and QA statistics for the dashboard.

Used by pages/review.py, the dashboard, the API.
"""
