"""The seed template (``init``) and the bundled example tracker (``demo``)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from .backends.xlsx import set_text_safe
from .cells import col_letter
from .config import load_config
from .defaults import DEFAULT_LOCALE
from .errors import TrackerError
from .i18n import text
from .model import TemplateColumn
from .rules import TEMPLATE_COLUMNS, RuleSet

TEMPLATE_ROWS = 1000
HEADER_FILL = "DDEBF7"

#: The seed's four sample rows (section 三), in simplified characters, dates as in the seed.
SEED_ROWS: list[list[Any]] = [
    [
        "筹备期(第1-2周)",
        "小红书",
        "KOL种草笔记发布",
        "完成3位腰部KOL(5-10万粉)各1篇产品体验笔记发布",
        "市场部*经理",
        "2024-03-01",
        "2024-03-10",
        "2024-03-01",
        "-",
        "60%(2篇已发布,1篇待审核)",
        "进行中",
        "1位KOL笔记审核因内容合规问题延迟",
        "协同KOL调整内容重点,3月12日前提交",
        "-",
    ],
    [
        "筹备期(第1-2周)",
        "官方推文",
        "预热",
        "发布2篇新品推文(含产品亮点+预约)",
        "新媒体*运营",
        "2024-03-05",
        "2024-03-12",
        "2024-03-05",
        "2024-03-11",
        "100%",
        "已完成",
        "-",
        "-",
        "预约量超预期20%,需追加库存",
    ],
    [
        "预热期(第3-4周)",
        "抖音信息流",
        "广告投放",
        "投放3支短视频广告(定向25-35岁女性,预算5万元)",
        "渠道*专员",
        "2024-03-15",
        "2024-03-25",
        "2024-03-16",
        "-",
        "30%(素材已上线,消耗1.5万)",
        "进行中",
        "素材完播率低于行业平均水平(8%vs行业12%)",
        "优化视频前3秒内容,增加悬念设计",
        "-",
    ],
    [
        "爆发期(第5-6周)",
        "线下门店",
        "新品首发活动",
        "全国100家门店同步开展“买新品赠赠品”活动,培训店员",
        "销售部*总监",
        "2024-03-28",
        "2024-04-05",
        "-",
        "-",
        "0%",
        "未开始",
        "部分门店赠品库存未到位",
        "协同供应链今日内补发,保证3月27日前到货",
        "活动规则需同步至各门店店员群",
    ],
]
#: The day the seed's rows describe (row 3 is under way, row 4 not yet started).
SEED_AS_OF = dt.date(2024, 3, 20)


def template_columns(ruleset: RuleSet, locale: str) -> list[TemplateColumn]:
    """The seed template's 14 columns, in order, in ``locale``."""
    return [
        TemplateColumn(
            ruleset.columns[n].title(locale),
            ruleset.columns[n].type,
            ruleset.columns[n].width or 14,
        )
        for n in TEMPLATE_COLUMNS
    ]


def template_statuses(locale: str) -> list[str]:
    """The four statuses for the dropdown."""
    return [
        text(locale, f"status.{s}") for s in ("not_started", "in_progress", "completed", "delayed")
    ]


def default_tab_title(locale: str) -> str:
    return "推广进度表" if locale == DEFAULT_LOCALE else "Tracker"


def new_workbook(
    ruleset: RuleSet,
    locale: str = DEFAULT_LOCALE,
    title: str | None = None,
    sheet: str | None = None,
) -> Any:
    """A tracker workbook from the seed template: headers, frozen header row, status dropdown,
    date formats and column widths. With ``title`` a title row sits above the header."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet or default_tab_title(locale)
    top = 1
    if title:
        ws.cell(row=1, column=1, value=title).font = Font(bold=True, size=14)
        top = 2
    statuses = template_statuses(locale)
    last = top + TEMPLATE_ROWS
    for i, spec in enumerate(template_columns(ruleset, locale)):
        cell = ws.cell(row=top, column=i + 1, value=spec.title)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        letter = col_letter(i)
        ws.column_dimensions[letter].width = spec.width
        if spec.type == "date":
            for r in range(top + 1, last + 1):
                ws.cell(row=r, column=i + 1).number_format = "yyyy-mm-dd"
        if spec.type == "status":
            dv = DataValidation(
                type="list", formula1='"' + ",".join(statuses) + '"', allow_blank=True
            )
            dv.error = (
                "未开始 / 进行中 / 已完成 / 延期"
                if locale == "zh-CN"
                else "not started / in progress / completed / delayed"
            )
            dv.showErrorMessage = False  # teams write synonyms too; the rules report unknown values
            dv.add(f"{letter}{top + 1}:{letter}{last}")
            ws.add_data_validation(dv)
    ws.freeze_panes = f"A{top + 1}"
    return wb


def init_tracker(path: Path, ruleset: RuleSet, locale: str = DEFAULT_LOCALE) -> Path:
    """Write a new, empty tracker workbook; refuses to overwrite an existing file."""
    path = Path(path)
    if path.exists():
        raise TrackerError(
            f"{path} already exists; choose another path (init never overwrites a file)"
        )
    if path.suffix.lower() != ".xlsx":
        raise TrackerError(f"{path}: the tracker must be an .xlsx file")
    path.parent.mkdir(parents=True, exist_ok=True)
    new_workbook(ruleset, locale).save(path)
    return path


# ---------------------------------------------------------------------------- demo

_PHASES = ["筹备期(第1-2周)", "预热期(第3-4周)", "爆发期(第5-6周)", "复盘期(第7周)"]
_CHANNELS = {
    "小红书": ["KOL种草笔记发布", "素人铺量笔记", "品牌号日更"],
    "抖音信息流": ["广告投放", "达人短视频", "直播切片投放"],
    "微信公众号": ["新品推文", "服务号模板消息", "视频号直播"],
    "微博": ["话题运营", "明星转发", "抽奖活动"],
    "B站": ["UP主测评", "开屏广告"],
    "线下门店": ["门店物料布置", "店员培训", "新品首发活动"],
    "电商站内": ["详情页优化", "站内直通车", "会员日活动"],
    "社群": ["私域社群预热", "优惠券发放"],
}
_DESCRIPTIONS = [
    "完成{n}位腰部KOL各1篇产品体验笔记发布",
    "发布{n}篇新品种草内容,单篇阅读量≥1万",
    "投放{n}支15秒短视频广告,预算{b}万元",
    "完成{n}场直播,场均观看≥5000人",
    "{n}家门店完成新品陈列与海报更换",
    "培训{n}名店员掌握新品卖点话术",
    "上线{n}张会员专享优惠券,核销率≥20%",
    "完成详情页{n}张主图与卖点视频更新",
    "组织{n}个社群每日2次新品互动",
    "邀请{n}位UP主发布测评视频",
]
_OWNERS = [
    "张伟",
    "王芳",
    "李娜",
    "刘洋",
    "陈静",
    "杨帆",
    "赵磊",
    "黄敏",
    "周杰",
    "吴婷",
    "市场部*丽",
    "设计组*强",
]
_RISKS = [
    ("KOL档期冲突", "2日内联系2位备选KOL,优先确认档期"),
    ("物料制作延期", "设计组加急处理,必要时外包部分素材,3天内交付"),
    ("广告素材审核未通过", "按平台规范修改文案,24小时内重新提审"),
    ("赠品库存不足", "协同供应链补发,周五前到货"),
    ("直播间流量低于预期", None),
]


def demo_rows(today: dt.date, n: int = 40, seed: int = 7) -> list[list[Any]]:
    """The seed's four rows (moved to around ``today``) and ``n`` synthetic rows with some mess."""
    shift = today - SEED_AS_OF
    rows: list[list[Any]] = []
    for row in SEED_ROWS:
        moved = list(row)
        for i in (5, 6, 7, 8):
            if moved[i] != "-":
                moved[i] = (dt.date.fromisoformat(moved[i]) + shift).isoformat()
        rows.append(moved)

    rnd = random.Random(seed)
    channels = list(_CHANNELS)
    start0 = today - dt.timedelta(days=28)
    for i in range(n):
        phase_i = min(i * len(_PHASES) // n, len(_PHASES) - 1)
        channel = channels[i % len(channels)]
        task = rnd.choice(_CHANNELS[channel])
        desc = rnd.choice(_DESCRIPTIONS).format(n=rnd.randint(2, 30), b=rnd.choice([2, 3, 5, 8]))
        ps = start0 + dt.timedelta(days=phase_i * 14 + rnd.randint(0, 10))
        pf = ps + dt.timedelta(days=rnd.randint(3, 12))
        if pf.weekday() >= 5:  # teams plan finishes on working days: a weekend one → Friday
            pf -= dt.timedelta(days=pf.weekday() - 4)
        state = rnd.random()
        actual_start: Any = "-"
        actual_finish: Any = "-"
        progress: Any = "0%"
        status = "未开始"
        if ps <= today:
            actual_start = ps + dt.timedelta(days=rnd.choice([0, 0, 1, 2]))
            if actual_start > today:
                actual_start = today
            planned = min(1.0, ((today - ps).days + 1) / ((pf - ps).days + 1))
            if pf < today and state < 0.6:
                actual_finish = min(today, pf + dt.timedelta(days=rnd.choice([-1, 0, 0, 1, 3])))
                if actual_finish < actual_start:
                    actual_finish = actual_start
                progress, status = "100%", "已完成"
            else:
                pct = max(5, min(95, round(planned * 100 * rnd.uniform(0.5, 1.15) / 5) * 5))
                progress, status = f"{pct}%", ("延期" if pf < today else "进行中")
        risk, counter = ("-", "-")
        if rnd.random() < 0.3:
            risk, maybe = rnd.choice(_RISKS)
            counter = maybe or "-"
        rows.append(
            [
                _PHASES[phase_i],
                channel,
                task,
                desc,
                rnd.choice(_OWNERS),
                ps,
                pf,
                actual_start,
                actual_finish,
                progress,
                status,
                risk,
                counter,
                "-",
            ]
        )

    # the mess real trackers have
    mess = rows[4:]
    mess[0][5] = f"{mess[0][5].month}/{mess[0][5].day}"  # year-less date
    mess[1][6] = f"{mess[1][6].year}.{mess[1][6].month}.{mess[1][6].day}"  # dotted date
    mess[2][5] = f"{mess[2][5].year}年{mess[2][5].month}月{mess[2][5].day}日"
    mess[3][9] = "６０％"  # full-width digits and percent sign
    mess[4][4] = "市场部"  # a department, not a person
    mess[5][11], mess[5][12] = "达人临时取消合作", "-"  # a risk without a countermeasure
    mess[6][9], mess[6][10], mess[6][8] = "80%", "已完成", "-"  # "completed" that is not
    mess[7][2] = '=HYPERLINK("https://example.com/landing","落地页")'  # formula-like text
    mess[8][10] = "搁置"  # shelved: on hold (a grey row), neither late nor progressing
    mess[9][10] = "done"  # English status
    mess[10][9] = "45%(初稿已交,待法务审核)"
    mess[11][6] = "3月上旬"  # not an exact day
    mess[12][4] = ""  # no owner
    mess[13][10] = "✅"
    return rows


#: The first line of the config a demo writes: how a later demo knows the folder is its own.
DEMO_MARK = "# tracker-sync demo configuration"


def _refuse_foreign(tracker: Path, config: Path) -> None:
    """A folder holding someone's own tracker or config is not the demo's to overwrite."""
    ours = config.exists() and config.read_text(encoding="utf-8", errors="replace").startswith(
        DEMO_MARK
    )
    mine = [p for p in (tracker, config) if p.exists() and not ours]
    if mine:
        names = " and ".join(str(p) for p in mine)
        raise TrackerError(
            f"{names} already exist{'s' if len(mine) == 1 else ''} and were not written by "
            "`tracker-sync demo`; the demo never overwrites them. Give it an empty folder: "
            "`tracker-sync demo ./try-demo`"
        )


def write_demo(
    directory: Path, ruleset: RuleSet, today: dt.date, locale: str = DEFAULT_LOCALE
) -> tuple[Path, Path]:
    """Write ``DIR/tracker.xlsx`` and ``DIR/config.yaml`` (a fresh example: a run store left
    by an earlier demo in DIR is removed); returns both paths. Files that an earlier demo did
    not write are never overwritten."""
    tracker = directory / "tracker.xlsx"
    config = directory / "config.yaml"
    _refuse_foreign(tracker, config)
    directory.mkdir(parents=True, exist_ok=True)
    title = (
        "新品上市推广进度监控表" if locale == "zh-CN" else "New product launch — promotion tracker"
    )
    wb = new_workbook(ruleset, locale, title=title)
    ws = wb.active
    # a person's own header formatting: trailing spaces and full-width brackets
    ws.cell(row=2, column=5).value = "负责人 " if locale == "zh-CN" else "Owner "
    if locale == "zh-CN":
        ws.cell(row=2, column=10).value = "当前进度（％）"
    rows = demo_rows(today)
    r = 3
    for i, row in enumerate(rows):
        if i == 4:
            ws.cell(
                row=r,
                column=1,
                value="—— 以下为渠道执行任务 ——" if locale == "zh-CN" else "— channel tasks —",
            )
            r += 2  # a section row, then a blank row
        for c, value in enumerate(row):
            set_text_safe(ws.cell(row=r, column=c + 1), value if value != "" else None)
        r += 1
    # a progress typed as a fraction in a percent-formatted cell
    cell = ws.cell(row=r - 1, column=10, value=0.5)
    cell.number_format = "0%"
    wb.save(tracker)
    config.write_text(
        f"{DEMO_MARK} (see config.example.yaml for every key)\n"
        "tracker:\n"
        "  backend: xlsx\n"
        "  path: tracker.xlsx\n"
        f"  worksheet: {ws.title}\n"
        f"locale: {locale}\n",
        encoding="utf-8",
    )
    store = load_config(config).history_path()
    if store is not None:  # the example starts afresh: forget an earlier demo's runs
        for old in store.parent.glob(store.name + "*"):
            old.unlink()
    return tracker, config
