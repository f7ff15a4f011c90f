"""What-if replays on small hand-made ledgers (exact figures), and the CLI's usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from models.domain.ledger_replay import CannotReplay
from models.domain.ledger_whatif import Scenario, checkpoints, compare
from models.domain.rules import EventSeats, Policy, Promotion
from tessera.tools.cli import main

from .ledger_writer import Writer

pytestmark = pytest.mark.unit


def strict_event() -> Writer:
    """Capacity 4, strict: a party of 3 seated, then 2, 1, 1 wait; the 3 leaves; a 3 waits."""
    writer = Writer(EventSeats.empty(4, waitlist_enabled=True, max_party_size=3))
    writer.register("a", 3)  # 2: seated
    writer.register("b", 2)  # 3: waits (1 seat free, strict)
    writer.register("c", 1)  # 4: waits behind b (strict), fill would seat it
    writer.register("d", 1)  # 5: waits
    writer.tick(1000)
    writer.unregister("a")  # 6: b, c, d seated
    writer.register("e", 3)  # 7: waits
    return writer


def test_the_same_policy_replays_what_happened() -> None:
    comparison = compare(strict_event().entries, Scenario(Policy.STRICT))
    assert comparison.actual.summary() == comparison.what_if.summary()
    actual = comparison.actual.summary()
    assert actual["partiesSeated"] == 3
    assert actual["seatsSeated"] == 4
    assert actual["partiesEverSeated"] == 4
    assert actual["partiesJoinedLine"] == 4
    assert actual["partiesLetInFromLine"] == 3
    assert actual["meanWaitEntries"] == 2.0  # b 6-3, c 6-4, d 6-5
    assert actual["maxWaitEntries"] == 3
    assert actual["partiesStillWaiting"] == 1
    assert actual["maxPassovers"] == 0


def test_fill_seats_the_small_party_at_once() -> None:
    comparison = compare(strict_event().entries, Scenario(Policy.FILL, bypass_limit=3))
    what_if = comparison.what_if.summary()
    assert what_if["policy"] == "fill"
    assert what_if["partiesJoinedLine"] == 3  # c is seated at once
    assert what_if["partiesLetInFromLine"] == 2
    assert what_if["meanWaitEntries"] == 2.0  # b 6-3, d 6-5
    assert what_if["maxPassovers"] == 1  # b, passed over by c
    assert [p["whatIf"] for p in comparison.filled()] == [0, 3, 3, 4, 4, 4, 4]
    assert [p["actual"] for p in comparison.filled()] == [0, 3, 3, 3, 3, 4, 4]
    assert comparison.seated_sooner_later() == (1, 0)  # c
    assert comparison.seated_only_in_what_if == {}
    assert comparison.seated_only_actually == {}


def test_fill_with_no_bypass_is_strict() -> None:
    comparison = compare(strict_event().entries, Scenario(Policy.FILL, bypass_limit=0))
    assert comparison.what_if.summary() | {"policy": "strict", "bypassLimit": 3} == (
        comparison.actual.summary()
    )


def test_who_is_seated_differently() -> None:
    """Capacity 2, fill: a party of 2 waits behind a seated 1, a 1 is seated past it; under
    strict the 1 waits, and when the first leaves the 2 still does not fit."""
    writer = Writer(
        EventSeats.empty(2, waitlist_enabled=True, max_party_size=2, policy=Policy.FILL)
    )
    writer.register("a", 1)  # 2: seated
    writer.register("b", 2)  # 3: waits
    writer.register("c", 1)  # 4: fill seats c past b
    comparison = compare(writer.entries, Scenario(Policy.STRICT))
    assert comparison.seated_only_actually == {"c": 1}
    assert comparison.seated_only_in_what_if == {}
    assert comparison.what_if.summary()["partiesStillWaiting"] == 2
    assert comparison.actual.summary()["maxPassovers"] == 1


def test_offers_are_answered_by_the_recorded_answer() -> None:
    """Recorded: automatic. What-if with offers: b declined nothing, so b accepts; the figures
    match the automatic run, and no seats stay on offer."""
    writer = Writer(EventSeats.empty(1, waitlist_enabled=True, promotion=Promotion.OFFER))
    writer.register("a")  # 2: seated
    writer.register("b")  # 3: waits
    writer.register("c")  # 4: waits
    writer.tick(1000)
    writer.unregister("a")  # 5: b offered
    writer.decline("b")  # 6: b declines, c offered
    writer.accept("c")  # 7: c seated
    comparison = compare(writer.entries, Scenario(Policy.STRICT, promotion=Promotion.OFFER))
    what_if = comparison.what_if
    assert what_if.seated_end == {"c": 1}  # b declines at once, as recorded; c accepts
    assert what_if.seats_on_offer_end == 0
    assert what_if.waits == [2, 1]  # b let in at 5 (joined 3), c at 5 (joined 4)
    assert comparison.actual.waits == [2, 2]  # b at 5, c offered at 6
    assert comparison.seated_sooner_later() == (1, 0)  # c: at 5 instead of 7


def test_checkpoints_spread_over_the_ledger() -> None:
    assert checkpoints(7, 10) == [1, 2, 3, 4, 5, 6, 7]
    assert checkpoints(100, 4) == [25, 50, 75, 100]
    assert checkpoints(1, 10) == [1]


def test_a_ledger_that_does_not_replay_is_refused() -> None:
    writer = strict_event()
    entries = [dict(e) for e in writer.entries]
    entries[5] = {**entries[5], "userId": "nobody", "kind": "user_removed", "type": None}
    with pytest.raises(CannotReplay):
        compare(entries, Scenario(Policy.FILL))
    with pytest.raises(CannotReplay):
        compare([], Scenario(Policy.FILL))


# --- the commands' usage errors (exit 2) ----------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["verify"], "Missing argument"),
        (["verify", "e1", "--url", "http://x", "--data-dir", "d"], "not both"),
        (["verify", "e1", "--key", "k"], "--key goes with --url"),
        (["replay", "e1"], "Missing option '--policy'"),
        (["replay", "e1", "--policy", "random"], "Invalid value"),
        (["replay", "e1", "--policy", "fill", "--bypass-limit", "101"], "Invalid value"),
        (["replay", "e1", "--policy", "fill", "--promotion", "lottery"], "Invalid value"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], said: str) -> None:
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 2
    assert said in result.output


def test_an_unreachable_server_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["verify", "e1", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_a_missing_data_dir_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["verify", "e1", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no data directory" in result.output
