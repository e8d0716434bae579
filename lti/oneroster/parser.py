"""Read a OneRoster CSV bundle (a zip holding manifest.csv and the files it
names) into checked rows. No database access: every check that needs only the
bundle is made here; reference checks against stored identities are made by
the import service.

Columns are read by header name, in any order; unknown columns are ignored,
`metadata.*` columns are kept. Files are UTF-8 with or without a BOM."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
VERSIONS = ("1.1", "1.2")
MODES = ("bulk", "delta", "absent")
STATUSES = ("active", "tobedeleted")
BOOLEANS = ("true", "false")
ORG_TYPES = frozenset(
    {"department", "school", "district", "local", "state", "national", "university"}
)
SESSION_TYPES = frozenset({"gradingPeriod", "semester", "schoolYear", "term"})
CLASS_TYPES = frozenset({"homeroom", "scheduled"})
# 1.1 roles, then the ones 1.2 adds.
USER_ROLES = frozenset(
    {
        "administrator",
        "aide",
        "guardian",
        "parent",
        "proctor",
        "relative",
        "student",
        "teacher",
        "districtAdministrator",
        "siteAdministrator",
        "systemAdministrator",
        "principal",
    }
)
ENROLLMENT_ROLES = frozenset(
    {"administrator", "aide", "guardian", "parent", "proctor", "relative", "student", "teacher"}
)
ROLE_TYPES = frozenset({"primary", "secondary"})
# Never stored in RosterIdentity.attributes.
SECRET_OR_CONTACT_COLUMNS = frozenset({"password", "sms", "phone"})
COMMON_COLUMNS = ("sourcedId", "status", "dateLastModified")


@dataclass(frozen=True)
class FileSpec:
    """What one OneRoster file must hold. `required` columns must be in the
    header and, on active rows, non-empty."""

    key: str
    required: tuple[str, ...]
    enums: dict[str, frozenset[str]] = field(default_factory=dict)
    dates: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        return f"{self.key}.csv"


# Processing order: referenced files first.
FILE_SPECS: tuple[FileSpec, ...] = (
    FileSpec("orgs", ("sourcedId", "name", "type"), enums={"type": ORG_TYPES}),
    FileSpec(
        "academicSessions",
        ("sourcedId", "title", "type", "startDate", "endDate", "schoolYear"),
        enums={"type": SESSION_TYPES},
        dates=("startDate", "endDate"),
    ),
    FileSpec("courses", ("sourcedId", "title", "orgSourcedId")),
    FileSpec(
        "classes",
        ("sourcedId", "title", "courseSourcedId", "classType", "schoolSourcedId", "termSourcedIds"),
        enums={"classType": CLASS_TYPES},
        lists=("termSourcedIds",),
    ),
    FileSpec(
        "users",
        ("sourcedId", "enabledUser", "givenName", "familyName"),
        enums={"enabledUser": frozenset(BOOLEANS)},
        lists=("orgSourcedIds", "role", "roles"),
    ),
    FileSpec(
        "roles",
        ("sourcedId", "userSourcedId", "roleType", "role", "orgSourcedId"),
        enums={"roleType": ROLE_TYPES, "role": USER_ROLES},
        dates=("beginDate", "endDate"),
    ),
    FileSpec(
        "enrollments",
        ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"),
        enums={"role": ENROLLMENT_ROLES, "primary": frozenset(BOOLEANS)},
        dates=("beginDate", "endDate"),
    ),
)
SPECS_BY_KEY = {spec.key: spec for spec in FILE_SPECS}


@dataclass(frozen=True)
class RowError:
    file: str
    line: int  # 0: the file as a whole (or the bundle when file is "")
    message: str

    def __str__(self) -> str:
        where = self.file or "bundle"
        return f"{where}:{self.line}: {self.message}" if self.line else f"{where}: {self.message}"


@dataclass
class Row:
    file: str
    line: int
    sourced_id: str
    status: str  # active | tobedeleted
    date_last_modified: datetime | None
    values: dict[str, str]
    metadata: dict[str, str]

    @property
    def active(self) -> bool:
        return self.status == "active"

    def get(self, column: str) -> str:
        return self.values.get(column, "")

    def list(self, column: str) -> list[str]:
        return [item.strip() for item in self.get(column).split(",") if item.strip()]

    def attributes(self) -> dict[str, str]:
        """The row's columns to keep beside the mapped object."""
        return {
            name: value
            for name, value in self.values.items()
            if name not in SECRET_OR_CONTACT_COLUMNS and name not in COMMON_COLUMNS and value
        }


@dataclass
class Bundle:
    version: str = ""
    modes: dict[str, str] = field(default_factory=dict)  # file key → bulk | delta
    rows: dict[str, list[Row]] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    system: str = ""


def datetime_parse(value: str) -> datetime:
    """ISO 8601 date-time, e.g. 2026-09-01T08:00:00.000Z; a naive one is UTC;
    a bare date is midnight UTC."""
    text = value.strip()
    if "T" not in text and " " not in text:
        parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
    else:
        parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(data: bytes, filename: str, errors: list[RowError]) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        errors.append(RowError(filename, 0, f"not UTF-8 (byte {error.start})"))
        return None


def _manifest_read(text: str, bundle: Bundle) -> None:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    names = [cell.strip() for cell in header or []]
    if "propertyName" not in names or "value" not in names:
        bundle.errors.append(RowError("manifest.csv", 1, "header needs propertyName and value"))
        return
    name_at, value_at = names.index("propertyName"), names.index("value")
    properties: dict[str, str] = {}
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        name = cells[name_at].strip() if name_at < len(cells) else ""
        value = cells[value_at].strip() if value_at < len(cells) else ""
        properties[name] = value
    version = properties.get("oneroster.version", "")
    if version not in VERSIONS:
        bundle.errors.append(
            RowError("manifest.csv", 0, f"oneroster.version {version!r} is not 1.1 or 1.2")
        )
    bundle.version = version
    bundle.system = properties.get("source.systemName", "")
    for spec in FILE_SPECS:
        mode = properties.get(f"file.{spec.key}", "absent").strip().lower() or "absent"
        if mode not in MODES:
            bundle.errors.append(
                RowError("manifest.csv", 0, f"file.{spec.key} is {mode!r}: bulk, delta or absent")
            )
        elif mode != "absent":
            bundle.modes[spec.key] = mode


def _file_read(spec: FileSpec, text: str, mode: str, bundle: Bundle) -> list[Row]:
    errors = bundle.errors
    name = spec.filename
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as error:
        errors.append(RowError(name, 1, f"unreadable CSV: {error}"))
        return []
    columns = [cell.strip() for cell in header or []]
    missing = [column for column in spec.required if column not in columns]
    if missing:
        errors.append(RowError(name, 1, f"missing required column(s): {', '.join(missing)}"))
        return []
    seen_columns: set[str] = set()
    for column in columns:
        if column and column in seen_columns:
            errors.append(RowError(name, 1, f"column {column} appears twice"))
            return []
        seen_columns.add(column)
    rows: list[Row] = []
    first_line: dict[str, int] = {}
    while True:
        # A quoted field may span lines: a record is reported at its first line.
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            errors.append(RowError(name, reader.line_num, f"unreadable CSV: {error}"))
            break
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            errors.append(
                RowError(name, line, f"{len(cells)} fields where the header has {len(columns)}")
            )
            continue
        values: dict[str, str] = {}
        metadata: dict[str, str] = {}
        for column, cell in zip(columns, cells, strict=True):
            cell = cell.strip()
            if column.startswith("metadata."):
                if cell:
                    metadata[column.removeprefix("metadata.")] = cell
            elif column:
                values[column] = cell
        row = _row_check(spec, name, line, mode, values, metadata, errors)
        if row is None:
            continue
        if row.sourced_id in first_line:
            errors.append(
                RowError(
                    name,
                    line,
                    f"duplicate sourcedId {row.sourced_id} (first on line "
                    f"{first_line[row.sourced_id]})",
                )
            )
            continue
        first_line[row.sourced_id] = line
        rows.append(row)
    return rows


def _row_check(
    spec: FileSpec,
    name: str,
    line: int,
    mode: str,
    values: dict[str, str],
    metadata: dict[str, str],
    errors: list[RowError],
) -> Row | None:
    problems: list[str] = []
    sourced_id = values.get("sourcedId", "")
    status = values.get("status", "") or ("active" if mode == "bulk" else "")
    if status not in STATUSES:
        problems.append(
            f"status {status!r} is not active or tobedeleted"
            if status
            else "status is required in a delta file"
        )
    modified: datetime | None = None
    if values.get("dateLastModified"):
        try:
            modified = datetime_parse(values["dateLastModified"])
        except ValueError:
            problems.append(f"dateLastModified {values['dateLastModified']!r} is not a date-time")
    elif mode == "delta":
        problems.append("dateLastModified is required in a delta file")
    if not sourced_id:
        problems.append("sourcedId is empty")
    if status != "tobedeleted":
        empty = [column for column in spec.required if column != "sourcedId" and not values[column]]
        if empty:
            problems.append(f"empty required field(s): {', '.join(empty)}")
    for column, allowed in spec.enums.items():
        value = values.get(column, "")
        if not value:
            continue
        items = [item.strip() for item in value.split(",")] if column in spec.lists else [value]
        for item in items:
            if item not in allowed:
                problems.append(f"{column} {item!r} is not one of {', '.join(sorted(allowed))}")
    for column in spec.dates:
        value = values.get(column, "")
        if value:
            try:
                date.fromisoformat(value)
            except ValueError:
                problems.append(f"{column} {value!r} is not a date (YYYY-MM-DD)")
    if spec.key == "academicSessions" and values.get("schoolYear"):
        if not (values["schoolYear"].isdigit() and len(values["schoolYear"]) == 4):
            problems.append(f"schoolYear {values['schoolYear']!r} is not a four-digit year")
    if spec.key == "users" and status != "tobedeleted":
        for item in [r.strip() for r in values.get("role", "").split(",") if r.strip()]:
            if item not in USER_ROLES:
                problems.append(f"role {item!r} is not one of {', '.join(sorted(USER_ROLES))}")
        for item in [r.strip() for r in values.get("roles", "").split(",") if r.strip()]:
            if item not in USER_ROLES:
                problems.append(f"roles {item!r} is not one of {', '.join(sorted(USER_ROLES))}")
    if problems:
        errors.extend(RowError(name, line, problem) for problem in problems)
        return None
    return Row(
        file=name,
        line=line,
        sourced_id=sourced_id,
        status=status,
        date_last_modified=modified,
        values=values,
        metadata=metadata,
    )


def bundle_read(data: bytes) -> Bundle:
    """Parse a zipped bundle. Never raises for bad input: problems are in
    `Bundle.errors`."""
    bundle = Bundle()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        bundle.errors.append(RowError("", 0, "not a zip file"))
        return bundle
    with archive:
        members = {info.filename: info for info in archive.infolist() if not info.is_dir()}
        if sum(info.file_size for info in members.values()) > MAX_UNCOMPRESSED_BYTES:
            bundle.errors.append(RowError("", 0, "the bundle unpacks to more than 200 MB"))
            return bundle
        manifests = sorted(
            (path for path in members if path.rsplit("/", 1)[-1] == "manifest.csv"),
            key=lambda path: path.count("/"),
        )
        if not manifests:
            bundle.errors.append(RowError("", 0, "no manifest.csv in the zip"))
            return bundle
        base = manifests[0][: -len("manifest.csv")]
        manifest_text = _text(archive.read(manifests[0]), "manifest.csv", bundle.errors)
        if manifest_text is None:
            return bundle
        _manifest_read(manifest_text, bundle)
        if bundle.errors:
            return bundle
        for spec in FILE_SPECS:
            mode = bundle.modes.get(spec.key)
            if mode is None:
                continue
            path = base + spec.filename
            if path not in members:
                bundle.errors.append(
                    RowError(spec.filename, 0, f"the manifest says {mode} but the file is missing")
                )
                continue
            try:
                raw = archive.read(path)
            except (zipfile.BadZipFile, OSError) as error:
                bundle.errors.append(RowError(spec.filename, 0, f"unreadable: {error}"))
                continue
            text = _text(raw, spec.filename, bundle.errors)
            if text is not None:
                bundle.rows[spec.key] = _file_read(spec, text, mode, bundle)
    return bundle
