"""Stream -> group routing and visibility, parameterised by room kind.

A room's frames travel on streams: `all`, `staff` (rooms with staff),
`table.<id>` and `user.<id>`. Each stream maps to fan-out groups
(`<prefix>.<id>`, `<prefix>.<id>.table.<t>`, ...); a member follows the groups
of the streams it may see, and a resync filters the buffer with `visible`."""

from __future__ import annotations

STREAM_ALL = "all"
STREAM_STAFF = "staff"


def stream_table(table_id: int) -> str:
    return f"table.{table_id}"


def stream_user(user_id: int) -> str:
    return f"user.{user_id}"


class Streams:
    """The routing of one kind of room. With `staff=True` (the live room)
    staff have a group of their own, see every table stream, and learners
    share a `learners` group; without it (playback) there is no staff stream."""

    def __init__(self, prefix: str, *, staff: bool = False) -> None:
        self.prefix = prefix
        self.staff = staff

    def group_all(self, room_id: int) -> str:
        return f"{self.prefix}.{room_id}"

    def group_staff(self, room_id: int) -> str:
        return f"{self.prefix}.{room_id}.staff"

    def group_learners(self, room_id: int) -> str:
        """Everyone but staff: frames staff get in a richer form of their own
        (the public poll tally), so that each person receives one of them."""
        return f"{self.prefix}.{room_id}.learners"

    def group_table(self, room_id: int, table_id: int) -> str:
        return f"{self.prefix}.{room_id}.table.{table_id}"

    def group_user(self, room_id: int, user_id: int) -> str:
        return f"{self.prefix}.{room_id}.user.{user_id}"

    def scope(self, room_id: int) -> str:
        """The resync buffer's scope of a room (its `all` group's name)."""
        return self.group_all(room_id)

    def groups_for_stream(self, room_id: int, stream: str) -> list[str]:
        if stream == STREAM_ALL:
            return [self.group_all(room_id)]
        if stream == STREAM_STAFF and self.staff:
            return [self.group_staff(room_id)]
        kind, _, ident = stream.partition(".")
        if kind == "table":
            table = [self.group_table(room_id, int(ident))]
            return [*table, self.group_staff(room_id)] if self.staff else table
        if kind == "user":
            return [self.group_user(room_id, int(ident))]
        raise ValueError(f"unknown stream {stream!r}")

    def groups_for_member(
        self, room_id: int, *, user_id: int, table_id: int | None, is_staff: bool = False
    ) -> list[str]:
        groups = [self.group_all(room_id), self.group_user(room_id, user_id)]
        if self.staff and is_staff:
            groups.append(self.group_staff(room_id))
            return groups
        if self.staff:
            groups.append(self.group_learners(room_id))
        if table_id is not None:
            groups.append(self.group_table(room_id, table_id))
        return groups

    def visible(
        self, stream: str, *, user_id: int, table_id: int | None, is_staff: bool = False
    ) -> bool:
        staff = self.staff and is_staff
        if stream == STREAM_ALL:
            return True
        if stream == STREAM_STAFF:
            return staff
        kind, _, ident = stream.partition(".")
        if kind == "table":
            return staff or (table_id is not None and int(ident) == table_id)
        if kind == "user":
            return int(ident) == user_id
        return False
