"""`tessera import` rows, pure: the optional `seats` column (a register's party size)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tessera.tools.importer import BadRow, Row, parse_row, read_rows

pytestmark = pytest.mark.unit


def test_a_file_with_a_seats_column_gives_each_register_its_party(tmp_path: Path) -> None:
    path = tmp_path / "signups.csv"
    path.write_text("eventId,seats,userId,type\nlaunch,3,ann,register\nlaunch,,bob,\n")

    rows = list(read_rows(path))

    assert rows == [Row(2, "register", "ann", "launch", 3), Row(3, "register", "bob", "launch")]
    assert rows[0].item() == {"type": "register", "userId": "ann", "eventId": "launch", "seats": 3}
    assert "seats" not in rows[1].item()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (["register", "ann", "e1", "0"], "seats: must be an integer from 1 to 50 (got '0')"),
        (["register", "ann", "e1", "51"], "seats: must be an integer from 1 to 50 (got '51')"),
        (["register", "ann", "e1", "2.5"], "seats: must be an integer from 1 to 50 (got '2.5')"),
        (["unregister", "ann", "e1", "2"], "seats: only a register takes seats"),
        (["register", "ann", "e1"], "expected 4 fields, found 3"),
    ],
)
def test_a_bad_seats_value_is_a_bad_row(fields: list[str], message: str) -> None:
    assert parse_row(7, fields, (0, 1, 2, 3)) == BadRow(7, message)
