"""Every write of the live classroom, split by topic:

- sessions.py: schedule, start, end, cancel, mode, settings, attendance
- seating.py: tables, seats, automatic/CSV/manual seating
- room.py: hands, podium, reactions, away, timers, announcements, help flags
- chat.py: chat channels and Q&A
"""
