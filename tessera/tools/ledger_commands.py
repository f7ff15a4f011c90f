"""`tessera verify` and `tessera replay`: an event's ledger checked, or replayed under another
policy, read over HTTP (`--url`) or from the database (DATABASE_URL or --data-dir).

Exit codes: 0 ok, 1 the ledger does not verify (or does not replay), 2 usage or connection.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from models.domain.ledger_replay import CannotReplay
from models.domain.ledger_verify import Verdict, verify
from models.domain.ledger_whatif import Comparison, Scenario, compare
from models.domain.settings import MAX_BYPASS_LIMIT, Opening, Policy, Promotion
from tessera.config import DEFAULT_DATA_DIR, Settings
from tessera.tools.ledger_sources import DatabaseSource, HttpSource, Snapshot, SourceError
from tessera.tools.stored_key import stored_key_for

LISTED_USERS = 20  # users named per list in the table (--json names all)


def _source_options(command: Any) -> Any:
    for option in reversed(
        [
            click.option("--url", default=None, help="The API's base URL (read over HTTP)."),
            click.option(
                "--key",
                envvar="TESSERA_API_KEY",
                default=None,
                help=(
                    "API key for --url [TESSERA_API_KEY; else, if --url is the API `tessera up`"
                    " serves, the admin key it keeps]"
                ),
            ),
            click.option(
                "--data-dir",
                type=click.Path(file_okay=False, path_type=Path),
                default=None,
                envvar="TESSERA_DATA_DIR",
                help=f"Read the database of this data dir [DATABASE_URL, else {DEFAULT_DATA_DIR}].",
            ),
            click.option("--json", "as_json", is_flag=True, help="Machine-readable output."),
        ]
    ):
        command = option(command)
    return command


def _read(
    event_id: str, url: str | None, key: str | None, data_dir: Path | None, views: bool
) -> Snapshot:
    """The snapshot from the chosen source; connection faults exit 2."""
    if url is not None and data_dir is not None:
        raise click.UsageError("give --url or --data-dir, not both")
    try:
        if url is not None:
            if key is None:  # the stored key only to the API it belongs to
                key = stored_key_for(DEFAULT_DATA_DIR, url)
            return HttpSource(url, key).snapshot(event_id, with_views=views)
        return _from_database(event_id, data_dir or DEFAULT_DATA_DIR, views)
    except SourceError as error:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]{error}[/red]")
        sys.exit(2)


def _from_database(event_id: str, data_dir: Path, views: bool) -> Snapshot:
    from tessera.tools.servers import ServerError, servers

    settings = Settings.from_env()
    if settings.database_url:
        return DatabaseSource(settings.database_url).snapshot(event_id, with_views=views)
    if not (data_dir / "postgres").exists() and not data_dir.exists():
        raise SourceError(f"no data directory {data_dir} (and DATABASE_URL is not set)")
    try:
        # A placeholder Redis URL: reading needs PostgreSQL only, so no Redis is started.
        with servers(data_dir, None, "redis://127.0.0.1:1/0") as urls:
            return DatabaseSource(urls.database_url).snapshot(event_id, with_views=views)
    except ServerError as error:
        raise SourceError(str(error)) from None


def _key_without_url(ctx: click.Context, url: str | None) -> None:
    if url is None and ctx.get_parameter_source("key") is click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("--key goes with --url")


# --- verify -------------------------------------------------------------------------------


@click.command("verify")
@click.argument("event_id")
@_source_options
@click.pass_context
def verify_command(
    ctx: click.Context,
    *,
    event_id: str,
    url: str | None,
    key: str | None,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Verify an event's ledger: the hash chain, every outcome replayed through the rules,
    and the final state against the event's current views. Exit 1 at the first divergence."""
    _key_without_url(ctx, url)
    snapshot = _read(event_id, url, key, data_dir, views=True)
    verdict = verify(snapshot.entries, snapshot.views, event_id=event_id)
    if as_json:
        click.echo(json.dumps(verdict_json(event_id, verdict, snapshot), indent=2))
    else:
        _print_verdict(event_id, verdict, snapshot)
    if not verdict.ok:
        sys.exit(1)


def verdict_json(event_id: str, verdict: Verdict, snapshot: Snapshot) -> dict[str, Any]:
    divergence = verdict.divergence
    return {
        "eventId": event_id,
        "ok": verdict.ok,
        "entries": verdict.entries,
        "lastHash": verdict.last_hash if verdict.ok else None,
        "viewsCompared": snapshot.views is not None,
        "unchecked": list(verdict.unchecked),
        "divergence": None
        if divergence is None
        else {
            "index": divergence.index,
            "what": divergence.what,
            "expected": divergence.expected,
            "found": divergence.found,
        },
    }


def _print_verdict(event_id: str, verdict: Verdict, snapshot: Snapshot) -> None:
    console = Console(highlight=False, soft_wrap=True)
    if verdict.divergence is not None:
        console.print(f"[red]ledger of {event_id} does NOT verify[/red]")
        console.print(str(verdict.divergence), markup=False)
        return
    console.print(
        f"[green]ledger of {event_id} verified[/green]: {verdict.entries} entries,"
        f" last hash {verdict.last_hash}"
    )
    if snapshot.views is None:
        console.print("current views not compared: the event kept changing while it was read")
    elif verdict.unchecked:
        console.print(f"not shown by the views, so not compared: {', '.join(verdict.unchecked)}")
    else:
        console.print("the current views agree with the replayed state")


# --- replay -------------------------------------------------------------------------------


@click.command("replay")
@click.argument("event_id")
@click.option(
    "--policy",
    type=click.Choice([p.value for p in Policy]),
    required=True,
    help="The what-if policy.",
)
@click.option(
    "--bypass-limit",
    type=click.IntRange(0, MAX_BYPASS_LIMIT),
    default=None,
    help="The what-if bypass bound [as recorded].",
)
@click.option(
    "--promotion",
    type=click.Choice([p.value for p in Promotion]),
    default=None,
    help="The what-if promotion [as recorded].",
)
@click.option(
    "--opening",
    type=click.Choice([o.value for o in Opening]),
    default=None,
    help="fifo: a draw's pre-queue arriving at the opening, first come first served [as recorded].",
)
@click.option(
    "--points",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Checkpoints in the seats-filled series.",
)
@_source_options
@click.pass_context
def replay_command(
    ctx: click.Context,
    *,
    event_id: str,
    policy: str,
    bypass_limit: int | None,
    promotion: str | None,
    opening: str | None,
    points: int,
    url: str | None,
    key: str | None,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Replay an event's recorded demand under another policy, beside what happened."""
    _key_without_url(ctx, url)
    snapshot = _read(event_id, url, key, data_dir, views=False)
    scenario = Scenario(
        Policy(policy),
        bypass_limit,
        None if promotion is None else Promotion(promotion),
        None if opening is None else Opening(opening),
    )
    try:
        comparison = compare(snapshot.entries, scenario, points=points)
    except CannotReplay as error:
        Console(stderr=True, highlight=False).print(
            f"[red]the ledger of {event_id} does not replay: {error}[/red]"
            f" (`tessera verify {event_id}` names the first divergence)"
        )
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(comparison.as_json(), indent=2))
    else:
        print_comparison(Console(highlight=False, soft_wrap=True), comparison)


SUMMARY_ROWS = (
    ("partiesSeated", "parties seated (at the end)"),
    ("seatsSeated", "seats seated (at the end)"),
    ("partiesEverSeated", "parties ever seated"),
    ("partiesJoinedLine", "parties that joined the line"),
    ("partiesLetInFromLine", "parties let in from the line"),
    ("partiesLeftLineWaiting", "parties that left the line waiting"),
    ("partiesStillWaiting", "parties still waiting"),
    ("meanWaitEntries", "mean wait (ledger entries)"),
    ("maxWaitEntries", "max wait (ledger entries)"),
    ("maxPassovers", "max pass-overs suffered"),
    ("deniedEventFull", "denied EVENT_FULL"),
    ("updatesRefused", "event updates refused"),
    ("seatsOnOfferAtEnd", "seats on offer at the end"),
)


def print_comparison(console: Console, comparison: Comparison) -> None:
    data = comparison.as_json()
    actual, what_if = data["actual"], data["whatIf"]

    def settings(run: dict[str, Any]) -> str:
        return f"{run['policy']}, bypass {run['bypassLimit']}, {run['promotion']}"

    table = Table(title=f"{comparison.event_id}: {comparison.entries} ledger entries")
    table.add_column("")
    table.add_column(f"what happened\n({settings(actual)})", justify="right")
    table.add_column(f"what if\n({settings(what_if)})", justify="right")
    for name, label in SUMMARY_ROWS:
        table.add_row(label, _figure(actual[name]), _figure(what_if[name]))
    console.print(table)

    filled = Table(title="seats filled after entry")
    filled.add_column("entry", justify="right")
    filled.add_column("what happened", justify="right")
    filled.add_column("what if", justify="right")
    for point in data["seatsFilled"]:
        filled.add_row(str(point["index"]), str(point["actual"]), str(point["whatIf"]))
    console.print(filled)

    console.print(
        f"seated sooner in the what-if: {data['seatedSoonerInWhatIf']},"
        f" later: {data['seatedLaterInWhatIf']}"
    )
    for key, label in (
        ("seatedOnlyInWhatIf", "seated at the end only in the what-if"),
        ("seatedOnlyActually", "seated at the end only in what happened"),
    ):
        parties = data[key]
        named = ", ".join(f"{p['userId']} ({p['seats']})" for p in parties[:LISTED_USERS])
        more = f" and {len(parties) - LISTED_USERS} more" if len(parties) > LISTED_USERS else ""
        console.print(
            f"{label}: {len(parties)}{': ' + named if parties else ''}{more}", markup=False
        )


def _figure(value: object) -> str:
    return "-" if value is None else str(value)
