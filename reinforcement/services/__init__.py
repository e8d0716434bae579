"""Every write of reinforcement: planning and sending follow-up (planning.py),
answering review cards (reviews.py), course settings (settings.py)."""
