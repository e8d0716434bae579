"""OneRoster 1.1 / 1.2 CSV import (docs/oneroster.md).

`parser.py` reads a bundle (zip) into checked rows; `services.py` applies
them through the course, enrolment and seating services in one transaction;
`selectors.py` reads the stored roster identities."""
