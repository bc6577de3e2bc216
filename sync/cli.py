"""The command line (click): thin wrappers over the library; the only module that imports click."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import __version__
from .defaults import DEFAULT_CONFIG, DEFAULT_LOCALE, LOCALES
from .errors import TrackerSyncError

if TYPE_CHECKING:
    from .config import Config
    from .pipeline import RunResult
    from .rules import RuleSet
    from .unchanged import Unchanged


# The library is imported when a command runs, not to print --help or --version (pandas and
# the config models cost most of a second): these stand in for its entry points.


def load_config(path: Path) -> Config:
    from .config import load_config as load

    return load(path)


def sync(config: Config, **kwargs: Any) -> RunResult:
    from .run import sync as run_sync
    from .workdays import calendar_cache

    with calendar_cache():  # the holidays package's answers kept between runs
        return run_sync(config, **kwargs)


def sync_or_skip(config: Config, **kwargs: Any) -> RunResult | Unchanged:
    from .run import sync_or_skip as run
    from .workdays import calendar_cache

    with calendar_cache():
        return run(config, **kwargs)


def init_spreadsheet(spreadsheet: str, base: Config | None, **kwargs: Any) -> str:
    from .run import init_spreadsheet as init

    return init(spreadsheet, base, **kwargs)


def init_feishu(folder: str, base: Config, **kwargs: Any) -> tuple[str, str, str]:
    from .run import init_feishu as init

    return init(folder, base, **kwargs)


def report(result: RunResult, **kwargs: Any) -> dict[str, Any]:
    from .report import report as build

    return build(result, **kwargs)


def plan_lines(plan: dict[str, Any], limit: int) -> list[str]:
    from .report import plan_lines as lines

    return lines(plan, limit)


def load_rules(folders: list[Path]) -> RuleSet:
    from .rules import load_rules as load

    return load(folders)


def shipped_rules_dir() -> Path:
    from .rules import shipped_rules_dir as shipped

    return shipped()


SHOWN_FINDINGS = 20
SHOWN_CELLS = 40


def _fail(exc: TrackerSyncError) -> None:
    from .text import redact

    click.echo(f"Error: {redact(str(exc))}", err=True)
    sys.exit(exc.exit_code)


def _handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TrackerSyncError as exc:
            _fail(exc)

    return wrapper


#: ``-c/--config`` for every command that reads a config
_config_file = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Config file (default: $TRACKER_SYNC_CONFIG, else ./{DEFAULT_CONFIG}).",
)


def _clock_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--today`` / ``--at``: the run's clock, for every stage (history included)."""
    fn = click.option(
        "--at",
        type=click.DateTime(formats=["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"]),
        default=None,
        help='The run\'s time "YYYY-MM-DD HH:MM" in the configured time zone (pins --today too).',
    )(fn)
    fn = click.option(
        "--today",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="Run as of this day YYYY-MM-DD, at the current time of day (default: now).",
    )(fn)
    return fn


def _config_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = _config_file(fn)
    fn = _clock_options(fn)
    fn = click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print one JSON object to stdout and nothing else there.",
    )(fn)
    return fn


def _load(config_path: Path | None) -> Config:
    path = config_path or Path(os.environ.get("TRACKER_SYNC_CONFIG") or DEFAULT_CONFIG)
    return load_config(path)


def _clock(today: dt.datetime | None, at: dt.datetime | None) -> dict[str, Any]:
    """``sync``'s clock arguments from --today / --at (they must agree on the day)."""
    if at is not None and today is not None and at.date() != today.date():
        raise click.UsageError("--today and --at name different days; give one of them")
    if at is not None:
        return {"as_of": at.date(), "now": at}
    return {"as_of": today.date() if today else None, "now": None}


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="tracker-sync")
@click.option(
    "-v", "--verbose", count=True, help="Log what the run does to stderr (-v steps, -vv requests)."
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines as text or as one JSON object each.",
)
def cli(verbose: int, log_format: str) -> None:
    """Validate, compute and write back a shared promotion progress tracker.

    \b
    Quick start:
      tracker-sync demo            # an example tracker in ./demo, synced
      tracker-sync init plan.xlsx  # a new empty tracker from the template
      tracker-sync run -c config.yaml
      tracker-sync -v --log-format json run   # cron: one JSON log line per step
    """
    from .logs import configure

    configure(verbose, log_format)


@cli.command()
@_config_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Compute everything and show what would be written; write nothing.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="(.xlsx) Write the result to this file and leave the tracker untouched.",
)
@click.option(
    "--ignore-lock",
    is_flag=True,
    help="(.xlsx) Write even though an Excel/LibreOffice lock file says the tracker is open.",
)
@click.option(
    "--no-notify",
    is_flag=True,
    help="Send no alerts or digests this run (the next run sends what is then due).",
)
@click.option(
    "--full",
    is_flag=True,
    help="Run every stage even when nothing changed since the last run (see below).",
)
@_handle_errors
def run(
    config_path: Path | None,
    today: dt.datetime | None,
    at: dt.datetime | None,
    as_json: bool,
    dry_run: bool,
    output: Path | None,
    ignore_lock: bool,
    no_notify: bool,
    full: bool,
) -> None:
    """Sync the tracker: validate, compute, write generated columns, highlights and the summary.

    Exits 0 after a successful sync, even when rows have findings. --today / --at set the
    run's clock for every stage (history too); a run dated before the last recorded run is
    refused unless --dry-run, which writes nothing anywhere and lists the cells it would write
    and the messages it would send. With notify: channels, alerts and digests go out after the
    sync (--no-notify: none this run); a failing channel never fails the sync.

    When the tracker's content, the as-of day, the config and the rules are those of the last
    run, which changed nothing, the run stops after the read: nothing is computed or written,
    and it is recorded as unchanged (not with notify: channels, nor while an open risk's hours
    can still cross a rule's bound; --full runs every stage anyway).

    \b
    Examples:
      tracker-sync run -c config.yaml
      tracker-sync run --today 2024-03-20 --dry-run
      tracker-sync run --dry-run --json | jq '.plan.cells[:5]'
      tracker-sync run --json | jq .status_counts
    """
    config = _load(config_path)
    changes: dict[str, Any] = {}
    if output is not None:
        changes["output"] = output.resolve()
    if ignore_lock:
        changes["ignore_lock"] = True
    if changes:
        config = config.model_copy(update={"tracker": config.tracker.model_copy(update=changes)})
    if dry_run or full:
        result = sync(config, write=not dry_run, notify=not no_notify, **_clock(today, at))
        _print(result, as_json, config)
        return
    from .unchanged import Unchanged as Skipped

    outcome = sync_or_skip(config, notify=not no_notify, **_clock(today, at))
    if isinstance(outcome, Skipped):
        _print_unchanged(outcome, as_json)
    else:
        _print(outcome, as_json, config)


@cli.command()
@_config_option
@_handle_errors
def check(
    config_path: Path | None, today: dt.datetime | None, at: dt.datetime | None, as_json: bool
) -> None:
    """Read, validate and compute; write nothing (not even the run store, which is only read);
    exit 1 when any error-severity finding exists.

    \b
    Examples:
      tracker-sync check -c config.yaml
      tracker-sync check --json > findings.json
    """
    config = _load(config_path)
    result = sync(config, write=False, notify=False, **_clock(today, at))
    _print(result, as_json, config, checking=True)
    if result.has_errors:
        sys.exit(1)


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option(
    "--spreadsheet",
    default=None,
    help="Add the tracker tab to this Google spreadsheet (key or URL) instead of writing a file.",
)
@click.option(
    "--feishu",
    "feishu_folder",
    default=None,
    metavar="FOLDER_TOKEN",
    help="Create a Feishu / Lark spreadsheet holding the tracker in this folder (the app of the "
    "config's feishu: section must be able to write there).",
)
@click.option(
    "--worksheet",
    default=None,
    help="Name of the new tab (default: tracker.worksheet, else 推广进度表 / Tracker).",
)
@_config_file
@click.option(
    "--locale",
    type=click.Choice(LOCALES),
    default=None,
    help=f"Language of the headers (default: the config's, else {DEFAULT_LOCALE}).",
)
@_handle_errors
def init(
    path: Path | None,
    spreadsheet: str | None,
    feishu_folder: str | None,
    worksheet: str | None,
    config_path: Path | None,
    locale: str | None,
) -> None:
    """Create an empty tracker from the seed template: an .xlsx file, a tab in a Google Sheet,
    or a new Feishu / Lark spreadsheet in a folder.

    Headers, a frozen header row, a status dropdown, date formats and column widths. In a
    Google spreadsheet the generated columns are added too, protected warning-only.

    \b
    Examples:
      tracker-sync init launch-tracker.xlsx
      tracker-sync init --spreadsheet 1AbC...xyz -c config.yaml
      tracker-sync init --feishu fldcnAbC...xyz -c config.yaml
    """
    from .demo import init_tracker

    if sum(x is not None for x in (path, spreadsheet, feishu_folder)) != 1:
        raise click.UsageError(
            "give one of PATH (an .xlsx file), --spreadsheet KEY or --feishu FOLDER_TOKEN"
        )
    if feishu_folder is not None:
        token, url, tab = init_feishu(
            feishu_folder, _load(config_path), worksheet=worksheet, locale=locale
        )
        click.echo(
            f"Created spreadsheet {token} ({url}) with tab {tab!r}. Set tracker.spreadsheet: "
            f"{token} and tracker.worksheet: {tab} in the config and run `tracker-sync run`."
        )
        return
    if path is not None:
        created = init_tracker(path, load_rules([shipped_rules_dir()]), locale or DEFAULT_LOCALE)
        click.echo(
            f"Created {created}. Point a config at it (see config.example.yaml) and run `tracker-sync run`."
        )
        return
    assert spreadsheet is not None
    base = _load(config_path) if (config_path or Path(DEFAULT_CONFIG).exists()) else None
    title = init_spreadsheet(spreadsheet, base, worksheet=worksheet, locale=locale)
    click.echo(
        f"Added tab {title!r} to spreadsheet {spreadsheet}. "
        f"Set tracker.worksheet: {title} in the config and run `tracker-sync run`."
    )


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"))
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Date the example around this day (default: today).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the run's JSON object instead of the text report.",
)
@_handle_errors
def demo(directory: Path, today: dt.datetime | None, as_json: bool) -> None:
    """Write an example tracker (DIR/tracker.xlsx, DIR/config.yaml) and sync it.

    The example holds the seed's four sample rows and about 40 synthetic ones, with the mess
    real trackers have (year-less dates, full-width digits, a department as owner, ...).

    \b
    Example:
      tracker-sync demo            # writes ./demo
      tracker-sync demo /tmp/try
    """
    from .demo import write_demo

    day = today.date() if today else dt.date.today()
    tracker, config_path = write_demo(directory, load_rules([shipped_rules_dir()]), day)
    if not as_json:
        click.echo(f"Wrote {tracker} and {config_path}.")
    config = load_config(config_path)
    result = sync(config, as_of=day)
    _print(result, as_json, config)
    if not as_json:
        click.echo(
            f"Open {tracker} to see the generated columns, the highlights and the summary tab."
        )


def _print_unchanged(outcome: Unchanged, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(outcome.to_json(), ensure_ascii=False, indent=2))
        return
    click.echo(f"{outcome.target} / {outcome.worksheet}, as of {outcome.as_of.isoformat()}")
    k, sev = outcome.kpis, outcome.findings_by_severity
    if k:
        click.echo(
            f"  {k.get('total')} tasks, {k.get('delayed')} delayed; "
            f"completion rate {float(k.get('completion_rate') or 0):.1f}%"
        )
    if sev:
        click.echo(
            f"  findings: {sev.get('error', 0)} errors, {sev.get('warning', 0)} warnings, "
            f"{sev.get('info', 0)} info"
        )
    click.echo(
        f"  unchanged since run {outcome.same_as} (same tracker content, day, config and rules): "
        "nothing computed or written; --full runs every stage"
    )


def _print(result: RunResult, as_json: bool, config: Config, checking: bool = False) -> None:
    if as_json:
        out = report(result, plan=result.dry_run and not checking)
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    s = result.summary
    counts = s.status_counts
    click.echo(
        f"{result.snapshot.target} / {result.snapshot.tracker.title}, as of {result.as_of.isoformat()}"
    )
    on_hold = f", {counts['on_hold']} on hold" if counts.get("on_hold") else ""
    click.echo(
        f"  {s.total} tasks: {counts['not_started']} not started, {counts['in_progress']} in progress, "
        f"{counts['completed']} completed, {counts['delayed']} delayed{on_hold}; "
        f"completion rate {s.completion_rate:.1f}%"
    )
    sev = s.findings_by_severity
    if result.inactive_rules:
        shown = ", ".join(f"{r.id} ({', '.join(r.missing)})" for r in result.inactive_rules)
        click.echo(f"  rules not run, the sheet lacks their columns: {shown}")
    if s.repeated_header_rows:
        rows = ", ".join(map(str, s.repeated_header_rows))
        click.echo(f"  rows repeating the header, skipped (not tasks): {rows}")
    if result.calendar_warning:
        click.echo(f"  warning: {result.calendar_warning}")
    click.echo(f"  findings: {sev['error']} errors, {sev['warning']} warnings, {sev['info']} info")
    for f in result.findings.head(SHOWN_FINDINGS).itertuples(index=False):
        click.echo(f"    row {f.row:<5} {f.severity:<7} {f.rule:<20} {f.message}")
    if len(result.findings) > SHOWN_FINDINGS:
        click.echo(f"    ... and {len(result.findings) - SHOWN_FINDINGS} more (--json lists all)")
    if checking:
        return
    plan = result.plan
    if plan.is_empty:
        click.echo("  nothing to write: the tracker is up to date")
    elif result.dry_run:
        click.echo(
            f"  dry run: would write {plan.cell_count} cells" + _parts(result) + "; nothing written"
        )
        for line in plan_lines(plan.to_dict(), SHOWN_CELLS):
            click.echo(f"    {line}")
    elif result.applied is not None:
        where = result.applied.output or result.snapshot.target
        click.echo(
            f"  wrote {result.applied.cells_written} cells" + _parts(result) + f" to {where}"
        )
    _print_notifications(result)


def _print_notifications(result: RunResult) -> None:
    for n in result.notifications:
        rows = f"{len(n.task_rows)} tasks" if n.task_rows else "no tasks"
        if result.dry_run:
            click.echo(f"  would notify {n.channel}: {n.kind} ({rows})")
            for line in n.text.splitlines():
                click.echo(f"    | {line}")
        elif n.delivered:
            click.echo(f"  notified {n.channel}: {n.kind} ({rows}) — {n.title}")
        else:
            click.echo(
                f"  not delivered to {n.channel}: {n.kind} ({rows}); the next run retries: {n.error}"
            )


def _parts(result: RunResult) -> str:
    plan = result.plan
    parts = []
    if plan.summary is not None:
        parts.append("summary tab")
    if plan.conditional_formats is not None:
        parts.append(f"{len(plan.conditional_formats)} highlight rules")
    return f" ({', '.join(parts)})" if parts else ""


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="tracker-sync")


@cli.group()
def rules() -> None:
    """Inspect, check and explain the rule pack.

    \b
    Examples:
      tracker-sync rules list
      tracker-sync rules lint ./team-rules
      tracker-sync rules explain owner-not-department
    """


def _ruleset(config_path: Path | None) -> Any:
    path = config_path or Path(os.environ.get("TRACKER_SYNC_CONFIG") or DEFAULT_CONFIG)
    if config_path is None and not path.exists():
        return load_rules([shipped_rules_dir()])
    return load_rules(load_config(path).rule_dirs())


@rules.command("list")
@_config_file
@_handle_errors
def rules_list(config_path: Path | None) -> None:
    """A table of the active rules: id, severity, columns, what each checks (without a config
    file: the shipped pack).

    \b
    Example:
      tracker-sync rules list -c config.yaml
    """
    from .ruletools import describe

    ruleset = _ruleset(config_path)
    active = ruleset.active
    width = max(len(r.id) for r in active)
    for r in active:
        cols = ",".join(r.columns) or "-"
        click.echo(f"{r.id:<{width}}  {r.severity:<7}  {cols:<40}  {describe(r)}")
    disabled = [r.id for r in ruleset.rules if not r.enabled]
    if disabled:
        click.echo(f"\ndisabled: {', '.join(disabled)}")


@rules.command("lint")
@click.argument("folders", nargs=-1, type=click.Path(file_okay=False, path_type=Path))
@_handle_errors
def rules_lint(folders: tuple[Path, ...]) -> None:
    """Check rule folders (over the shipped pack): schema, columns, regexes, and every rule's own
    passing and failing example. Exit 1 with file:line messages when something is wrong.

    \b
    Examples:
      tracker-sync rules lint               # the shipped pack
      tracker-sync rules lint ./team-rules
    """
    from .ruletools import lint

    problems = lint(list(folders))
    if problems:
        for p in problems:
            click.echo(p)
        sys.exit(1)
    count = len(load_rules([shipped_rules_dir(), *folders]).rules)
    click.echo(f"ok: {count} rules, every example behaves")


@rules.command("explain")
@click.argument("rule_id")
@_config_file
@click.option(
    "--locale",
    type=click.Choice(LOCALES),
    default=None,
    help=f"Language of the text (default: the config's locale, else {DEFAULT_LOCALE}).",
)
@_handle_errors
def rules_explain(rule_id: str, config_path: Path | None, locale: str | None) -> None:
    """What a rule checks, why (the method's reason), and a passing and a failing example, as
    plain text in the config's language.

    \b
    Examples:
      tracker-sync rules explain countermeasure-deadline
      tracker-sync rules explain owner-not-department --locale en
    """
    from .ruletools import explain

    if locale is None:
        path = config_path or Path(os.environ.get("TRACKER_SYNC_CONFIG") or DEFAULT_CONFIG)
        locale = load_config(path).locale if path.exists() else DEFAULT_LOCALE
    click.echo(explain(_ruleset(config_path), rule_id, locale))


def _history(config: Config) -> Any:
    """The run store, read-only (the history commands only read)."""
    from .history import History

    path = config.history_path()
    if path is None:
        raise click.UsageError("history is off in this config (history.enabled: false)")
    if not path.exists():
        raise click.UsageError(
            f"no history yet at {path}: it starts with the first `tracker-sync run`"
        )
    store = History(path, readonly=True)
    store.claim(config.tracker.identity(), write=False)
    return store


@cli.command("history")
@_config_file
@click.option(
    "--limit",
    type=click.IntRange(1, 100000),
    default=30,
    show_default=True,
    help="How many runs, newest first.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run, as a list.")
@_handle_errors
def history_cmd(config_path: Path | None, limit: int, as_json: bool) -> None:
    """The runs remembered: when, as of which day, what happened, counts and requests.

    \b
    Example:
      tracker-sync history --limit 10
    """
    store = _history(_load(config_path))
    try:
        runs = store.runs(limit)
        owner = store.tracker()
        deliveries = store.deliveries(limit=limit)
    finally:
        store.close()
    if as_json:
        by_run: dict[int, list[dict[str, Any]]] = {}
        for d in deliveries:
            by_run.setdefault(d.last_run_id or d.run_id or 0, []).append(_delivery_json(d))
        click.echo(
            json.dumps(
                [r.__dict__ | {"deliveries": by_run.get(r.id, [])} for r in runs],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    click.echo(f"run store {store.path} — tracker {owner or '(not recorded)'}")
    click.echo(
        f"{'run':>5}  {'started':<19}  {'as of':<10}  {'outcome':<14}  {'rows':>5}  {'err':>4}  {'warn':>4}  {'cells':>6}  req r/w  tracker / tab"
    )
    for r in runs:
        where = f"{r.target or '-'} / {r.worksheet or '-'}"
        click.echo(
            f"{r.id:>5}  {r.started_at[:19]:<19}  {r.as_of or '-':<10}  {r.outcome:<14}  {_n(r.rows):>5}  {_n(r.errors):>4}  "
            f"{_n(r.warnings):>4}  {_n(r.cells_written):>6}  {_n(r.requests_read) + '/' + _n(r.requests_write):<7}  {where}"
            + (f"  {r.message}" if r.message else "")
        )
    if deliveries:
        click.echo("\ndeliveries (newest first)")
        click.echo(
            f"{'id':>5}  {'run':>5}  {'updated':<19}  {'channel':<12}  {'kind':<6}  "
            f"{'status':<10}  {'tries':>5}  tasks  title"
        )
        for d in deliveries:
            click.echo(
                f"{d.id:>5}  {_n(d.last_run_id):>5}  {d.updated_at[:19]:<19}  {d.channel:<12}  "
                f"{d.kind:<6}  {d.status:<10}  {d.attempts:>5}  {len(d.task_rows):>5}  {d.title}"
                + (f"  — {d.error}" if d.error and d.status != "delivered" else "")
            )


def _delivery_json(d: Any) -> dict[str, Any]:
    """A delivery as ``history --json`` lists it under its run."""
    keys = ("id", "channel", "kind", "slot", "task_rows", "title", "status", "attempts", "error")
    return {k: getattr(d, k) for k in keys} | {"delivered_at": d.delivered_at}


def _n(v: int | None) -> str:
    return "-" if v is None else str(v)


@cli.command()
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="First as-of day to show (YYYY-MM-DD).",
)
@_config_file
@click.option("--json", "as_json", is_flag=True, help="A JSON list of changes.")
@_handle_errors
def changes(since: dt.datetime, config_path: Path | None, as_json: bool) -> None:
    """What changed since a day, task by task, cell by cell.

    \b
    Example:
      tracker-sync changes --since 2024-03-01
    """
    config = _load(config_path)
    store = _history(config)
    try:
        found = store.changes(since.date())
        states = store.view().states
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([c.__dict__ for c in found], ensure_ascii=False, indent=2))
        return
    ruleset = load_rules(config.rule_dirs())
    locale = config.locale if config.locale_given else _stored_locale(config, ruleset)
    current = None
    for c in found:
        if c.task_id != current:
            current = c.task_id
            state = states.get(c.task_id)
            name = state.values.get("task", "") if state else ""
            gone = " (removed)" if state and state.deleted else ""
            click.echo(f"{c.task_id} {name}{gone}")
        label = ruleset.columns[c.field].title(locale) if c.field in ruleset.columns else c.field
        click.echo(
            f"  {c.as_of}  {label}: {c.old if c.old is not None else '∅'} → {c.new if c.new is not None else '∅'}"
        )
    if not found:
        click.echo(f"no changes since {since.date().isoformat()}")


def _stored_locale(config: Config, ruleset: RuleSet) -> str:
    """The language of the tracker's header row as the newest run that read it stored it (what
    a run without ``locale:`` speaks: :func:`sync.run.run_locale`), else the config's."""
    from .model import Grid
    from .parse import header_locale

    store = _history(config)
    try:
        for run in store.runs(limit=20):
            try:
                snap = store.snapshot(run.id)
            except TrackerSyncError:
                continue  # a failed run read nothing
            return header_locale(Grid(snap["title"], snap["rows"][:50]), ruleset) or config.locale
    finally:
        store.close()
    return config.locale


@cli.command("report")
@_config_file
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "pdf"]),
    default="md",
    show_default=True,
    help="Markdown (charts as PNG files beside it), one self-contained HTML page, or PDF.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The file to write (default: report-<week>.<format> in the current folder).",
)
@click.option("--week", default=None, metavar="YYYY-Www", help="The ISO week (default: this one).")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="First day (with --until).",
)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Last day (with --since).",
)
@click.option(
    "--template-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Templates replacing the shipped ones of the same name (default: report.template_dir).",
)
@_clock_options
@_handle_errors
def report_cmd(
    config_path: Path | None,
    fmt: str,
    output: Path | None,
    week: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    template_dir: Path | None,
    today: dt.datetime | None,
    at: dt.datetime | None,
) -> None:
    """Write the weekly status report and the retrospective (复盘) as Markdown, HTML or PDF.

    Overall RAG and why; what was completed this week and what is planned next week; the
    milestones (phases) planned vs forecast; risks new, closed and open; budget and earned
    value; KPI target vs actual; delays by cause; the risk rates; the Gantt, trend and burn-up
    charts. Reads the tracker and the run store; writes nothing to either. The tracker is read
    as of the period's last day (today when that is later; --today / --at pin it). Needs the
    extra: pip install 'tracker-sync[report]'.

    \b
    Examples:
      tracker-sync report                       # this week, report-2024-W12.md
      tracker-sync report --week 2024-W12 --format pdf --output 周报.pdf
      tracker-sync report --since 2024-03-01 --until 2024-03-31 --format html
    """
    from .weekly.data import between
    from .weekly.data import week as iso_week
    from .weekly.make import make_report

    if week is not None and (since is not None or until is not None):
        raise click.UsageError("give --week or --since/--until, not both")
    if (since is None) != (until is None):
        raise click.UsageError("--since and --until go together")
    period = None
    if week is not None:
        period = iso_week(week)
    elif since is not None and until is not None:
        period = between(since.date(), until.date())
    written = make_report(
        _load(config_path),
        fmt=fmt,  # type: ignore[arg-type]
        output=output,
        period=period,
        template_dir=template_dir,
        **_clock(today, at),
    )
    click.echo(
        f"wrote {written[0]}" + (f" and {len(written) - 1} charts" if len(written) > 1 else "")
    )


@cli.command()
@click.option(
    "--run",
    "run_id",
    type=int,
    required=True,
    help="The run whose snapshot to restore (see `tracker-sync history`).",
)
@click.option(
    "--to-tab",
    "tab",
    required=True,
    help="Name of the new tab to write (never the live tracker tab).",
)
@_config_file
@_handle_errors
def restore(run_id: int, tab: str, config_path: Path | None) -> None:
    """Write the human columns as they were at run N into a new tab; the live tab is untouched.

    \b
    Example:
      tracker-sync restore --run 42 --to-tab 进度表-3月20日
    """
    from .run import restore_run

    rows = restore_run(_load(config_path), run_id, tab)
    click.echo(f"wrote {rows} rows of run {run_id} to the new tab {tab!r}")


@cli.command()
@click.option(
    "--reset", is_flag=True, required=True, help="Make the current planned dates the baseline."
)
@_config_file
@_clock_options
@_handle_errors
def baseline(
    reset: bool, config_path: Path | None, today: dt.datetime | None, at: dt.datetime | None
) -> None:
    """Re-baseline: every task's current planned dates become its baseline (recorded in history).

    The first run's planned dates are the baseline; the ⚙ baseline column shows how far each
    planned finish has moved since.

    \b
    Example:
      tracker-sync baseline --reset
    """
    from .run import reset_baseline

    moved = reset_baseline(_load(config_path), **_clock(today, at))
    click.echo(
        f"baseline reset: {moved} tasks had moved; the next run shows 0 days against the new baseline"
    )


@cli.group()
def notify() -> None:
    """Alerts and digests to Feishu/Lark, WeCom, DingTalk, Slack and e-mail (notify: in the
    config); `run` sends them, `history` lists the deliveries.

    \b
    Example:
      tracker-sync notify test -c config.yaml
    """


@notify.command("test")
@_config_file
@_handle_errors
def notify_test(config_path: Path | None) -> None:
    """Send a sample message to every configured channel; exit 1 if any could not be reached.

    Checks the webhook URL, signing secret, SMTP login and the owner directory without waiting
    for an alert. Nothing is recorded.

    \b
    Example:
      FEISHU_BOT_SECRET=... tracker-sync notify test -c config.yaml
    """
    from .notify.deliver import send_test

    config = _load(config_path)
    if not config.notify.channels:
        raise click.UsageError("no notify.channels in this config; see the README's Notify section")
    failed = 0
    for name, error in send_test(config):
        if error is None:
            click.echo(f"{name}: delivered")
        else:
            failed += 1
            click.echo(f"{name}: not delivered: {error}")
    if failed:
        sys.exit(1)


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--spreadsheet", help="A Google spreadsheet's key or URL (credentials from -c).")
@click.option("--worksheet", help="The tracker's tab (default: the first visible tab).")
@click.option(
    "--output-config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(DEFAULT_CONFIG),
    show_default=True,
    help="The config to write; the rule folder goes beside it.",
)
@click.option(
    "--rules-dir", default="team-rules", show_default=True, help="Its rule folder's name."
)
@click.option("--force", is_flag=True, help="Overwrite existing files instead of showing the diff.")
@click.option(
    "--locale",
    type=click.Choice(LOCALES),
    default=None,
    help="The config's locale (default: from the header's language).",
)
@_config_file
@click.option("--json", "as_json", is_flag=True, help="Print the proposal as one JSON object.")
@_handle_errors
def adopt(
    path: Path | None,
    spreadsheet: str | None,
    worksheet: str | None,
    output_config: Path,
    rules_dir: str,
    force: bool,
    locale: str | None,
    config_path: Path | None,
    as_json: bool,
) -> None:
    """Adopt a team's own tracker: map its columns and status words onto the known ones and
    write a config plus a rule folder (column aliases, status words, columns it lacks made
    optional) to read and edit. Never writes to the tracker. Run again on an adopted config and
    it shows the differences instead of overwriting (--force to overwrite).

    \b
    Examples:
      tracker-sync adopt ours.xlsx
      tracker-sync adopt ours.xlsx --worksheet 排期 --output-config ours/config.yaml
      tracker-sync adopt --spreadsheet 1AbC... -c credentials-only.yaml --json
    """
    import difflib

    from .adopt import files, lines, propose, relative
    from .backends import open_backend
    from .config import Config

    if (path is None) == (spreadsheet is None):
        raise click.UsageError("give the tracker: a PATH to an .xlsx file, or --spreadsheet KEY")
    folder = output_config.parent
    if path is not None:
        tracker: dict[str, Any] = {"backend": "xlsx", "path": relative(path, folder)}
        base = Config.model_validate({"tracker": {"backend": "xlsx", "path": str(path.resolve())}})
    else:
        tracker = {"backend": "gsheets", "spreadsheet": spreadsheet}
        found = _load(config_path)
        base = found.model_copy(
            update={
                "tracker": found.tracker.model_copy(
                    update={"backend": "gsheets", "spreadsheet": spreadsheet}
                )
            }
        )
    if worksheet:
        tracker["worksheet"] = worksheet
        base = base.model_copy(
            update={"tracker": base.tracker.model_copy(update={"worksheet": worksheet})}
        )
    snapshot = open_backend(base).read()
    ruleset = load_rules([shipped_rules_dir()])
    adoption = propose(snapshot.tracker, ruleset)
    if locale is not None:
        import dataclasses

        adoption = dataclasses.replace(adoption, locale=locale)
    tracker.setdefault("worksheet", adoption.worksheet)
    text = files(
        adoption,
        ruleset,
        tracker=tracker,
        rules_dir=rules_dir,
        source=str(path or spreadsheet),
        today=dt.date.today(),
    )
    targets = {
        "config": output_config,
        "columns": folder / rules_dir / "columns.yaml",
    }
    diffs: list[str] = []
    for key, target in targets.items():
        if target.exists() and not force:
            old = target.read_text(encoding="utf-8")
            strip = [ln for ln in old.splitlines() if not ln.startswith("# written by")]
            new = [ln for ln in text[key].splitlines() if not ln.startswith("# written by")]
            diffs += difflib.unified_diff(strip, new, str(target), "proposed", lineterm="")
    written: list[str] = []
    if not any(t.exists() for t in targets.values()) or force:
        for key, target in targets.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text[key], encoding="utf-8")
            written.append(str(target))
    if as_json:
        out = adoption.to_dict() | {"written": written, "diff": diffs}
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    for line in lines(adoption):
        click.echo(line)
    if written:
        click.echo("wrote " + " and ".join(written))
        click.echo(f"next: tracker-sync check -c {output_config}")
    elif diffs:
        click.echo("already adopted; what adopt would change now (--force writes it):")
        for line in diffs:
            click.echo(line)
    else:
        click.echo(f"already adopted: {output_config} and its rule folder match this proposal")


# ---------------------------------------------------------------------------- fleet


@cli.group()
def fleet() -> None:
    """Many trackers from one manifest (fleet.yaml): run them concurrently within one Google
    quota per credential, skip unchanged ones, write a portfolio roll-up.

    \b
    Examples:
      tracker-sync fleet run -f fleet.yaml
      tracker-sync fleet run -f fleet.yaml --shard 0/4 --json
      tracker-sync fleet status -f fleet.yaml
    """


def _fleet_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON object: trackers and shard."
    )(fn)
    fn = click.option(
        "--shard",
        default=None,
        metavar="I/N",
        help="Run every N-th tracker of the name-sorted manifest from I (default: "
        "$JOB_COMPLETION_INDEX/$TRACKER_SYNC_SHARD_COUNT or $CLOUD_RUN_TASK_INDEX/"
        "$CLOUD_RUN_TASK_COUNT, else all).",
    )(fn)
    fn = click.option(
        "--only", multiple=True, metavar="NAME", help="Only this tracker (repeatable)."
    )(fn)
    fn = click.option(
        "-f",
        "--file",
        "manifest_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Path("fleet.yaml"),
        show_default=True,
        help="The fleet manifest.",
    )(fn)
    return fn


def _fleet(
    mode: str,
    manifest_path: Path,
    only: tuple[str, ...],
    shard: str | None,
    as_json: bool,
    clock: dict[str, Any],
) -> None:
    from .fleet import load_manifest, parse_shard, run_fleet, shard_from_env

    manifest = load_manifest(manifest_path)
    where = parse_shard(shard) if shard else shard_from_env()
    result = run_fleet(manifest, mode=mode, only=only, shard=where, **clock)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        rows = [*result.trackers, *([result.portfolio] if result.portfolio else [])]
        width = max((len(t.name) for t in rows), default=4)
        for t in rows:
            click.echo(f"{t.name:<{width}}  {t.outcome:<9}  {t.message}")
        failed = sum(1 for t in result.trackers if t.exit_code)
        i, n = result.shard
        click.echo(
            f"{len(result.trackers)} trackers (shard {i}/{n}), {failed} not ok, "
            f"{sum(t.skipped_unchanged for t in result.trackers)} skipped unchanged"
        )
    sys.exit(result.exit_code)


@fleet.command("run")
@_fleet_options
@_clock_options
@_handle_errors
def fleet_run(
    manifest_path: Path,
    only: tuple[str, ...],
    shard: str | None,
    as_json: bool,
    today: dt.datetime | None,
    at: dt.datetime | None,
) -> None:
    """Sync every tracker of the manifest (or this shard's share); exit with the worst
    tracker's code. One tracker's failure never stops the others.

    \b
    Examples:
      tracker-sync fleet run -f fleet.yaml --json | jq '.trackers[] | select(.exit_code > 0)'
      JOB_COMPLETION_INDEX=1 TRACKER_SYNC_SHARD_COUNT=4 tracker-sync fleet run -f fleet.yaml
    """
    _fleet("run", manifest_path, only, shard, as_json, _clock(today, at))


@fleet.command("check")
@_fleet_options
@_clock_options
@_handle_errors
def fleet_check(
    manifest_path: Path,
    only: tuple[str, ...],
    shard: str | None,
    as_json: bool,
    today: dt.datetime | None,
    at: dt.datetime | None,
) -> None:
    """Read, validate and compute every tracker; write nothing; exit 1 when any tracker has
    error findings (higher when one cannot be read).

    \b
    Example:
      tracker-sync fleet check -f fleet.yaml --only spring-launch
    """
    _fleet("check", manifest_path, only, shard, as_json, _clock(today, at))


@fleet.command("status")
@_fleet_options
@_handle_errors
def fleet_status(
    manifest_path: Path, only: tuple[str, ...], shard: str | None, as_json: bool
) -> None:
    """Each tracker's last fleet run (outcome, when, skipped or not), from the state files
    beside the run stores; sends no request.

    \b
    Example:
      tracker-sync fleet status -f fleet.yaml --json
    """
    _fleet("status", manifest_path, only, shard, as_json, {})
