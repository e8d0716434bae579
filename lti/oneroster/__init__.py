"""OneRoster 1.1 / 1.2 CSV import (docs/oneroster.md).

`parser.py` reads a bundle (zip) into checked rows; `services.py` applies
them through the course, enrolment and seating services in one transaction;
`views.py` is the admin upload page (courses/admin.py routes it)."""
