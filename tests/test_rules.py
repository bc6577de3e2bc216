"""The rule language, the shipped pack (every rule against its own examples) and rule tooling."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sync.checks import REGISTRY, Context
from sync.cli import cli
from sync.demo import SEED_ROWS
from sync.errors import RuleError
from sync.parse import parse
from sync.rules import RuleSet, load_rules, shipped_rules_dir
from sync.ruletools import explain, lint, plain, run_example
from sync.validate import validate

from .conftest import SEED_AS_OF, grid

SHIPPED = load_rules([shipped_rules_dir()])


@pytest.mark.parametrize("rule", [r for r in SHIPPED.rules], ids=lambda r: r.id)
def test_every_shipped_rule_passes_its_passing_row_and_fails_its_failing_row(rule: Any) -> None:
    assert rule.examples and "pass" in rule.examples and "fail" in rule.examples, (
        "every rule ships both examples"
    )
    passing = run_example(SHIPPED, rule, "pass")
    assert passing.findings.empty, passing.findings.to_dict("records")  # the passing rows are clean
    failing = run_example(SHIPPED, rule, "fail")
    hits = failing.findings[failing.findings["rule"] == rule.id]
    assert len(hits) >= 1
    assert set(hits["severity"]) == {rule.severity}
    assert all("{" not in m for m in hits["message"]), "every placeholder was filled"


def test_seed_rows_have_no_errors_and_one_deadline_warning() -> None:
    table = parse(grid([list(r) for r in SEED_ROWS], SHIPPED), SHIPPED, SEED_AS_OF)
    f = validate(table, SHIPPED, Context(SEED_AS_OF))
    assert not (f["severity"] == "error").any(), f.to_dict("records")
    deadline = f[f["rule"] == "countermeasure-deadline"]
    assert deadline[["row", "message"]].values.tolist() == [
        [4, "应对措施没有写明完成时限(如 3月12日前、2日内):优化视频前3秒内容,增加悬念设计"]
    ]
    # the one task still "in progress" 10 days after its planned finish is flagged, as a warning
    assert f[f["rule"] == "status-matches-calendar"]["row"].tolist() == [2]


def test_shipped_rule_ids_are_stable() -> None:
    assert [r.id for r in SHIPPED.rules] == [
        "required-fields",
        "formula-not-calculated",
        "owner-not-department",
        "owner-one-primary",
        "description-not-repeated",
        "description-length",
        "description-quantity",
        "description-vague",
        "planned-exact-day",
        "valid-date",
        "ambiguous-date",
        "plan-order",
        "planned-finish-day-off",
        "actual-order",
        "actual-not-future",
        "valid-progress",
        "progress-range",
        "known-status",
        "completed-truthful",
        "done-marked-completed",
        "progress-needs-start",
        "status-matches-calendar",
        "risk-countermeasure",
        "countermeasure-deadline",
        "predecessor-lead-time",
        "valid-amount",
        "budget-not-exceeded",
        "channel-budget",
        "valid-key-flag",
        "duplicate-task",
        "stale-in-progress",
        "stale-key-task",
        "risk-response-overdue",
        "plan-changed-without-reason",
        "fake-completion",
        "progress-backwards",
    ]


@pytest.mark.parametrize(
    ("owner", "rule"),
    [
        ("市场部*经理", None),  # the seed's masked names are people
        ("渠道*专员", None),
        ("主责:张三 / 协办:李四", None),
        ("主责人设计组强,协办人市场部经理", None),
        ("市场部", "owner-not-department"),
        ("设计组", "owner-not-department"),
        ("运营中心", "owner-not-department"),
        ("推广团队", "owner-not-department"),
        ("Marketing team", "owner-not-department"),
        ("TBD", "owner-not-department"),
        ("待定", "owner-not-department"),
        ("张三、李四", "owner-one-primary"),
        ("张三/李四", "owner-one-primary"),
        ("Alice and Bob", "owner-one-primary"),
    ],
)
def test_owner_rules(owner: str, rule: str | None) -> None:
    f = _findings([{"owner": owner}])
    owners = set(f[f["rule"].str.startswith("owner")]["rule"])
    assert owners == ({rule} if rule else set())


def _findings(rows: list[dict[str, Any]], ruleset: RuleSet = SHIPPED) -> Any:
    from sync.ruletools import BASE_EXAMPLE, example_grid

    table = parse(example_grid(ruleset, [{**BASE_EXAMPLE, **r} for r in rows]), ruleset, SEED_AS_OF)
    return validate(table, ruleset, Context(SEED_AS_OF))


# ---------------------------------------------------------------------------- the language


def write_folder(tmp_path: Path, text: str, name: str = "team.yaml") -> Path:
    folder = tmp_path / "team"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_a_later_folder_merges_over_a_rule_by_id(tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path,
        "rules:\n  - id: description-length\n    severity: error\n  - id: duplicate-task\n    enabled: false\n",
    )
    rs = load_rules([shipped_rules_dir(), folder])
    by_id = {r.id: r for r in rs.rules}
    assert by_id["description-length"].severity == "error"
    assert by_id["description-length"].params.min == 6  # the rest is kept
    assert not by_id["duplicate-task"].enabled and "duplicate-task" not in {r.id for r in rs.active}


def test_a_team_adds_columns_and_rules(tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path,
        "columns:\n  region:\n    type: text\n    aliases: [区域, region]\n"
        "rules:\n  - id: region-known\n    check: one_of\n    columns: [region]\n    values: [华东, 华南, 华北]\n"
        "    message: {en: 'unknown region {value}'}\n",
    )
    rs = load_rules([shipped_rules_dir(), folder])
    f = _findings([{"region": "华东"}, {"region": "火星"}], rs)
    hits = f[f["rule"] == "region-known"]
    assert hits["row"].tolist() == [3] and hits.iloc[0]["column"] == "区域"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "rules:\n  - id: x\n    check: required\n    colums: [owner]\n",
            "team.yaml:4: colums: unknown key",
        ),
        (
            "rules:\n  - id: x\n    check: nope\n",
            "team.yaml:3: rule 'x': unknown check kind 'nope'",
        ),
        (
            "rules:\n  - id: x\n    check: required\n    columns: [ownr]\n",
            "names unknown column 'ownr'",
        ),
        (
            "rules:\n  - id: x\n    check: pattern\n    columns: [owner]\n    regex: '(['\n",
            "team.yaml:5: regex: bad regular expression",
        ),
        (
            "rules:\n  - id: x\n    check: range\n    columns: [progress]\n    min: lots\n",
            "team.yaml:5: min: Input should be a valid number",
        ),
        (
            "rules:\n  - id: x\n    check: required\n    when: {column: owner, equals: x}\n",
            "team.yaml:4: rule 'x': when: unknown operator",
        ),
        (
            "rules:\n  - id: x\n    check: required\n    severity: fatal\n",
            "team.yaml:4: severity: Input should be 'error', 'warning' or 'info'",
        ),
        ("columns:\n  owner:\n    type: person\n", "team.yaml:3: type: Input should be"),
        ("rulez: []\n", "team.yaml:1: unknown key 'rulez'"),
        ("rules:\n  - check: required\n", "team.yaml:2: each rule is a mapping with an id"),
    ],
)
def test_bad_rule_files_are_rejected_with_file_and_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    folder = write_folder(tmp_path, text)
    with pytest.raises(RuleError) as exc:
        load_rules([shipped_rules_dir(), folder])
    assert expected in str(exc.value)


def test_lookup_from_a_file_and_from_a_tab(tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path,
        "rules:\n  - id: owner-on-roster\n    check: lookup\n    columns: [owner]\n"
        "    values_from: {file: roster.txt}\n    split: '[/、]'\n    strip: '^(主责|协办)[:：]'\n",
    )
    (folder / "roster.txt").write_text("# the team\n王丽\n张三\n李四\n", encoding="utf-8")
    rs = load_rules([shipped_rules_dir(), folder])
    f = _findings([{"owner": "王丽"}, {"owner": "主责:张三 / 协办:李四"}, {"owner": "赵六"}], rs)
    assert f[f["rule"] == "owner-on-roster"]["row"].tolist() == [4]

    folder2 = write_folder(
        tmp_path,
        "rules:\n  - id: owner-on-roster\n    values_from: {tab: 名单, column: 姓名}\n",
        "z.yaml",
    )
    rs2 = load_rules([shipped_rules_dir(), folder, folder2])
    from sync.model import Grid
    from sync.ruletools import BASE_EXAMPLE, example_grid

    table = parse(
        example_grid(rs2, [{**BASE_EXAMPLE, "owner": "赵六"}, BASE_EXAMPLE]), rs2, SEED_AS_OF
    )
    tabs = {"名单": Grid("名单", [["部门", "姓名"], ["市场", "王丽"]])}
    f2 = validate(table, rs2, Context(SEED_AS_OF, tabs=tabs))
    assert f2[f2["rule"] == "owner-on-roster"]["row"].tolist() == [2]


def test_every_registered_kind_is_used_or_documented() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for kind in REGISTRY:
        assert f"#### `{kind}`" in readme


def test_lint_accepts_the_shipped_pack_and_reports_a_broken_example(tmp_path: Path) -> None:
    assert lint([]) == []
    folder = write_folder(tmp_path, "rules:\n  - id: description-length\n    min: 100\n")
    problems = lint([folder])
    assert (
        problems
        and "description-length" in problems[0]
        and "fires on its 'pass' example" in problems[0]
    )


def test_explain_shows_why_and_examples() -> None:
    text = explain(SHIPPED, "owner-not-department", "en")
    assert "why:" in text and "市场部*经理" in text and "→ row 2 Owner" in text
    text = explain(SHIPPED, "owner-not-department")  # zh-CN
    assert "原因:" in text and "市场部*经理" in text and "→ 第 2 行 负责人" in text


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_explain_is_plain_text_in_the_locale_for_every_rule(locale: str) -> None:
    other = "en" if locale == "zh-CN" else "zh-CN"
    for rule in SHIPPED.rules:
        text = explain(SHIPPED, rule.id, locale)
        assert "``" not in text and ":ref:" not in text, rule.id  # no reStructuredText
        why = rule.why_text(locale)
        assert why and plain(why) in text, rule.id
        assert rule.why_text(other) not in text, rule.id  # the other language's reason
        if locale == "zh-CN":
            assert re.search(r"[\u4e00-\u9fff]", why), rule.id  # every reason in Chinese too


def test_a_why_in_an_unknown_locale_fails_to_load(tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path,
        "rules:\n  - id: required-fields\n    why: {fr: pourquoi}\n",
    )
    with pytest.raises(RuleError, match="unknown locale"):
        load_rules([shipped_rules_dir(), folder])


# ---------------------------------------------------------------------------- CLI


def test_rules_list_lint_explain_cli(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["rules", "list"])
    assert r.exit_code == 0 and "owner-not-department" in r.output and "error" in r.output
    r = CliRunner().invoke(cli, ["rules", "lint"])
    assert r.exit_code == 0 and "36 rules" in r.output
    bad = write_folder(tmp_path, "rules:\n  - id: x\n    check: required\n    colums: [owner]\n")
    r = CliRunner().invoke(cli, ["rules", "lint", str(bad)])
    assert r.exit_code == 1 and "team.yaml:4: colums: unknown key" in r.output
    r = CliRunner().invoke(cli, ["rules", "explain", "countermeasure-deadline"])
    assert r.exit_code == 0 and "优化视频前3秒内容" in r.output and "原因:" in r.output
    # the config's locale decides the language; --locale overrides it
    (tmp_path / "en.yaml").write_text("tracker: {backend: xlsx, path: t.xlsx}\nlocale: en\n")
    args = ["rules", "explain", "countermeasure-deadline", "-c", str(tmp_path / "en.yaml")]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0 and "why:" in r.output and "原因" not in r.output
    r = CliRunner().invoke(cli, [*args, "--locale", "zh-CN"])
    assert r.exit_code == 0 and "原因:" in r.output
    r = CliRunner().invoke(cli, ["rules", "explain", "nope"])
    assert r.exit_code == 2


def test_a_missing_roster_file_is_a_load_error(tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path,
        "rules:\n  - id: owner-on-roster\n    check: lookup\n    columns: [owner]\n    values_from: {file: nope.txt}\n",
    )
    with pytest.raises(
        RuleError, match=r"team\.yaml:5: rule 'owner-on-roster': cannot read the list .*nope\.txt"
    ):
        load_rules([shipped_rules_dir(), folder])


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    import time

    from sync.errors import ConfigError

    # each condition is all-of the one before, twice: 2**29 conditions once expanded
    chain = ["&c0 {column: owner, eq: x}"] + [
        f"&c{i} {{all: [*c{i - 1}, *c{i - 1}]}}" for i in range(1, 30)
    ]
    lines = ["rules:", "  - id: bomb", "    check: flag", "    columns: [owner]"]
    lines.append(f"    when: {{any: [{', '.join(chain)}]}}")
    folder = tmp_path / "team"
    folder.mkdir()
    (folder / "bomb.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=r"bomb.yaml:1: .*expand to more than 200,000 values"):
        load_rules([shipped_rules_dir(), folder])
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize(
    "where",
    [
        "../../../../etc/passwd",  # up and out of the folder
        "/etc/passwd",  # an absolute path
        "lists/../../roster.txt",  # in, then out again
    ],
)
def test_values_from_fails_when_the_file_is_outside_the_rule_folder(
    tmp_path: Path, where: str
) -> None:
    folder = write_folder(
        tmp_path,
        "rules:\n  - id: owner-on-roster\n    check: lookup\n    columns: [owner]\n"
        f"    values_from: {{file: '{where}'}}\n",
    )
    (tmp_path / "roster.txt").write_text("王丽\n", encoding="utf-8")  # beside, not inside
    with pytest.raises(
        RuleError, match=r"team\.yaml:5: rule 'owner-on-roster': .*outside the rule folder"
    ):
        load_rules([shipped_rules_dir(), folder])


def test_values_from_fails_when_a_link_in_the_folder_points_outside(tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path,
        "rules:\n  - id: owner-on-roster\n    check: lookup\n    columns: [owner]\n"
        "    values_from: {file: roster.txt}\n",
    )
    (tmp_path / "secret.txt").write_text("王丽\n", encoding="utf-8")
    (folder / "roster.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(RuleError, match="outside the rule folder"):
        load_rules([shipped_rules_dir(), folder])


def test_a_list_in_a_subfolder_of_the_rule_folder_is_fine(tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path,
        "rules:\n  - id: owner-on-roster\n    check: lookup\n    columns: [owner]\n"
        "    values_from: {file: lists/roster.txt}\n",
    )
    (folder / "lists").mkdir()
    (folder / "lists" / "roster.txt").write_text("王丽\n", encoding="utf-8")
    rs = load_rules([shipped_rules_dir(), folder])
    assert next(r for r in rs.rules if r.id == "owner-on-roster").params.file_values == ("王丽",)


@pytest.mark.parametrize("key", ["split", "strip"])
def test_a_bad_lookup_regex_fails_when_the_rules_load(tmp_path: Path, key: str) -> None:
    folder = write_folder(
        tmp_path,
        "rules:\n  - id: owner-on-roster\n    check: lookup\n    columns: [owner]\n"
        f"    values_from: {{tab: 名单, column: 姓名}}\n    {key}: '(['\n",
    )
    with pytest.raises(RuleError, match=rf"team\.yaml:6: {key}: bad regular expression"):
        load_rules([shipped_rules_dir(), folder])


def test_a_huge_cell_does_not_make_a_regex_rule_slow() -> None:
    """countermeasure-deadline took 30 s on a 32k-digit cell (quadratic); a regex sees at most
    REGEX_TEXT_LIMIT characters, and the shipped pattern no longer backtracks over digit runs."""
    import time

    t0 = time.perf_counter()
    f = _findings(
        [{"risk": "KOL档期冲突", "countermeasure": "1" * 32_000, "remarks": "9" * 32_000}]
    )
    assert time.perf_counter() - t0 < 2
    assert f[f["rule"] == "countermeasure-deadline"]["row"].tolist() == [2]


def test_a_regex_sees_only_the_first_characters_of_a_cell(tmp_path: Path) -> None:
    from sync.defaults import REGEX_TEXT_LIMIT

    folder = write_folder(
        tmp_path,
        "rules:\n  - id: remarks-no-tbd\n    check: not_pattern\n    columns: [remarks]\n"
        "    regex: tbd\n    severity: warning\n",
    )
    rs = load_rules([shipped_rules_dir(), folder])
    early = "tbd" + "x" * REGEX_TEXT_LIMIT
    late = "x" * REGEX_TEXT_LIMIT + "tbd"
    f = _findings([{"remarks": early}, {"remarks": late}], rs)
    assert f[f["rule"] == "remarks-no-tbd"]["row"].tolist() == [2]


def test_a_team_adds_its_status_words(tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path,
        "statuses:\n  not_started: [采购等待]\n  on_hold: [Blocked]\n  in_progress: [搁置]\n",
    )
    rs = load_rules([shipped_rules_dir(), folder])
    words = rs.status_words()
    assert words["采购等待"] == "not_started" and words["blocked"] == "on_hold"
    assert words["搁置"] == "in_progress", "a later folder moves a word to its id"
    assert words["暂停"] == "on_hold" and words["进行中"] == "in_progress", "the pack's words stay"
    f = _findings([{"status": "采购等待"}, {"status": "Blocked"}, {"status": "看情况"}], rs)
    assert f[f["rule"] == "known-status"]["row"].tolist() == [4]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("statuses:\n  paused: [暂停]\n", "team.yaml:2: statuses: unknown status id 'paused'"),
        ("statuses: [暂停]\n", "team.yaml:1: 'statuses' maps a status id to the words"),
        ("statuses:\n  on_hold: 暂停\n", "team.yaml:2: statuses: on_hold: a list of words"),
        (
            "statuses:\n  on_hold: [暂停]\n  delayed:\n    - 延期\n    - 暂停\n",
            "team.yaml:5: statuses: '暂停' is listed under both on_hold and delayed",
        ),
        (
            "columns:\n  status:\n    values: {on_hold: [暂停]}\n",
            "team.yaml:3: values: unknown key",
        ),
    ],
)
def test_bad_status_words_fail_with_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    folder = write_folder(tmp_path, text)
    with pytest.raises(RuleError) as exc:
        load_rules([shipped_rules_dir(), folder])
    assert expected in str(exc.value)


# ---------------------------------------------------------------------------- rules follow the columns


def test_required_fields_checks_the_columns_declared_mandatory() -> None:
    rule = next(r for r in SHIPPED.rules if r.id == "required-fields")
    mandatory = [n for n, spec in SHIPPED.columns.items() if spec.required]
    assert (
        rule.columns
        == mandatory
        == [
            "phase",
            "channel",
            "task",
            "description",
            "owner",
            "planned_start",
            "planned_finish",
        ]
    )


def test_a_team_makes_a_column_optional_in_one_place(tmp_path: Path) -> None:
    folder = write_folder(tmp_path, "columns:\n  channel:\n    required: false\n")
    rs = load_rules([shipped_rules_dir(), folder])
    assert "channel" not in next(r for r in rs.rules if r.id == "required-fields").columns
    f = _findings([{"channel": "-"}], rs)
    assert f.empty, f.to_dict("records")  # an empty optional cell is no finding


def test_for_sheet_narrows_rules_to_the_columns_that_exist() -> None:
    sheet = ["task", "owner", "planned_start", "planned_finish", "progress", "status"]
    runnable, inactive = SHIPPED.for_sheet(sheet)
    by_id = {r.id: r for r in runnable}
    # per-column kinds run on the columns the sheet has
    assert by_id["required-fields"].columns == ["task", "owner", "planned_start", "planned_finish"]
    assert by_id["formula-not-calculated"].columns == [
        "task",
        "owner",
        "planned_start",
        "planned_finish",
        "progress",
        "status",
    ]
    # an `any` branch about a missing column is dropped: 100 % still has to say completed
    assert by_id["done-marked-completed"].when == {"any": [{"column": "progress", "ge": 100}]}
    # `not any` likewise: the description cannot repeat a channel the sheet does not have
    missing = {i.id: i.missing for i in inactive}
    assert missing["completed-truthful"] == ("actual_finish",)
    assert missing["progress-needs-start"] == ("actual_start",)
    assert missing["duplicate-task"] == ("phase", "channel", "description")
    assert missing["risk-countermeasure"] == ("countermeasure", "risk")
    assert missing["description-length"] == ("description",)
    assert set(missing).isdisjoint(by_id), "a rule is runnable or inactive, never both"
    assert "stale-key-task" in by_id, "history columns always exist; key_task's branch drops"


def test_a_disabled_rule_is_neither_runnable_nor_inactive() -> None:
    rs = RuleSet(
        SHIPPED.columns,
        [r.model_copy(update={"enabled": False}) for r in SHIPPED.rules],
        statuses=SHIPPED.statuses,
    )
    assert rs.for_sheet([]) == ([], [])


def test_the_readme_names_every_per_column_kind() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    start = readme.index("A rule that checks several columns one by one")
    listed = readme[start : readme.index("runs on those the sheet has", start)]
    assert {k for k, kind in REGISTRY.items() if kind.per_column} == set(
        re.findall(r"`(\w+)`", listed)
    )
