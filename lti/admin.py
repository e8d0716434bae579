# The OneRoster admin lives beside its import (lti/oneroster/).
from lti.oneroster.admin import RosterIdentityAdmin  # noqa: F401
