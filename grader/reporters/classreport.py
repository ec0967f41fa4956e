"""The instructors' class report: per-check pass rates as bars, the commonest failures.

``render_html`` gives one self-contained page (inline CSS, no script, no fonts or images
fetched), viewable offline in any browser; ``render_text`` gives the same essentials for a
terminal. Every message shown comes from untrusted submissions' runs and is escaped; each is a real
message (the commonest of its group, numbers intact). Files not submitted and untouched
stubs are counted apart from the failures.
Pure: :class:`~grader.stats.ClassStats` in, text out.
"""

from __future__ import annotations

import html

from grader.stats import CheckStats, ClassStats, ExerciseStats

_STYLE = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330;
       max-width: 1000px; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .6rem; border-bottom: 1px solid #dde1e8; padding-bottom: .3rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .2rem; }
.meta, .sub { color: #5b6478; margin: 0 0 .6rem; }
.cards { display: flex; gap: .8rem; flex-wrap: wrap; margin: 1rem 0; }
.card { border: 1px solid #dde1e8; border-radius: 8px; padding: .5rem 1rem; min-width: 9rem; }
.card b { display: block; font-size: 1.4rem; }
table { width: 100%; border-collapse: collapse; }
td, th { padding: .3rem .4rem; vertical-align: top; text-align: left; }
th { font-weight: 600; color: #5b6478; font-size: .85rem; }
tr + tr td { border-top: 1px solid #f0f1f4; }
td.name { width: 38%; }
td.count { width: 8.5rem; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.num { width: 4.5rem; text-align: right; font-variant-numeric: tabular-nums; }
.bar { background: #eef0f4; border-radius: 4px; height: 1.15rem; overflow: hidden; }
.fill { height: 100%; }
.good { background: #2f9e44; } .mid { background: #f59f00; }
.bad { background: #e03131; } .none { background: #adb5bd; }
.badge { font-size: .72rem; border: 1px solid #adb5bd; border-radius: 3px; padding: 0 .25rem; color: #5b6478; }
ul.why { margin: .2rem 0 .1rem 1rem; padding: 0; color: #5b6478; font-size: .88rem; }
code { font: .88em ui-monospace, SFMono-Regular, Menlo, monospace; }
"""


def _rate_class(rate: float | None) -> str:
    if rate is None:
        return "none"
    return "good" if rate >= 0.8 else "mid" if rate >= 0.5 else "bad"


def _num(value: float) -> str:
    return f"{round(value, 2):g}"


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.0f}%"


def render_html(stats: ClassStats, *, title: str = "awaitlings class report", meta: str = "") -> str:
    """The page. ``meta`` is one line under the title (kit and Python versions, date)."""
    e = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="meta">{e(meta)}</p>' if meta else "",
        '<div class="cards">',
        f'<div class="card"><b>{stats.students}</b>students</div>',
        f'<div class="card"><b>{_num(stats.mean_total)} / {_num(stats.max_total)}</b>mean total</div>',
        f'<div class="card"><b>{stats.full_marks}</b>at full marks</div>',
        "</div>",
        "<h2>Pass rate per check</h2>",
        '<p class="sub">Each bar is the share of the students whose submission ran the check that passed it '
        "(not submitted and untouched stubs are not counted). Under a bar: the commonest reasons it failed.</p>",
    ]
    for ex in stats.exercises:
        parts.append(_exercise_html(ex))
    parts.append("<h2>Most common failure messages</h2>")
    if stats.top_failures:
        parts.append('<table><tr><th class="num">students</th><th>check</th><th>message</th></tr>')
        for failure in stats.top_failures:
            parts.append(
                f'<tr><td class="num">{failure.students}</td><td>{e(failure.exercise)} · {e(failure.check)}</td>'
                f"<td><code>{e(failure.message)}</code></td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append('<p class="sub">No check failed.</p>')
    if absentees := _absentees(stats):
        parts.append(f'<p class="sub">Not failures, so not in this table: {e(absentees)}.</p>')
    parts.append("</body></html>\n")
    return "\n".join(p for p in parts if p)


def _absentees(stats: ClassStats) -> str:
    """How many exercise files were not submitted, or were untouched stubs ("" when none)."""
    parts = []
    if stats.not_submitted:
        parts.append(f"{stats.not_submitted} exercise file{_s(stats.not_submitted)} not submitted (not found)")
    if stats.not_started:
        parts.append(f"{stats.not_started} untouched stub{_s(stats.not_started)} (not started)")
    return ", ".join(parts)


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _exercise_html(ex: ExerciseStats) -> str:
    e = html.escape
    statuses = ", ".join(f"{count} {status.replace('_', ' ')}" for status, count in ex.statuses)
    mean = f"mean {_num(ex.mean_score)} / {_num(ex.max_score)}"
    rows = [
        f'<section><h3>{e(ex.id)} · {e(ex.title)}</h3><p class="sub">{mean} · '
        f"{ex.full_marks} of {ex.students} at full marks · {e(statuses)}</p>",
    ]
    if ex.problems:
        rows.append('<ul class="why">')
        rows += [f"<li>{count} &times; could not be graded: <code>{e(msg)}</code></li>" for msg, count in ex.problems]
        rows.append("</ul>")
    if ex.checks:
        rows.append("<table>")
        rows += [_check_row(check) for check in ex.checks]
        rows.append("</table>")
    rows.append("</section>")
    return "\n".join(rows)


def _check_row(check: CheckStats) -> str:
    e = html.escape
    rate = check.rate
    width = 0 if rate is None else round(rate * 100, 1)
    badge = ' <span class="badge">hidden</span>' if check.hidden else ""
    why = ""
    if check.failures:
        items = "".join(f"<li>{count} &times; <code>{e(msg)}</code></li>" for msg, count in check.failures)
        why = f'<ul class="why">{items}</ul>'
    return (
        f'<tr><td class="name">{e(check.name)}{badge}{why}</td>'
        f'<td><div class="bar" role="img" aria-label="{_pct(rate)} passed">'
        f'<div class="fill {_rate_class(rate)}" style="width: {width}%"></div></div></td>'
        f'<td class="count">{check.passed}/{check.ran} · {_pct(rate)}</td></tr>'
    )


def render_text(stats: ClassStats, *, worst: int = 5) -> str:
    """A few lines for the terminal: totals, each exercise, the checks passed least often."""
    lines = [
        f"{stats.students} students · mean {_num(stats.mean_total)}/{_num(stats.max_total)} · "
        f"{stats.full_marks} at full marks"
    ]
    for ex in stats.exercises:
        mean = f"mean {_num(ex.mean_score)}/{_num(ex.max_score)}"
        lines.append(f"  {ex.id} {ex.title}: {mean}, {ex.full_marks} at full marks")
    if absentees := _absentees(stats):
        lines.append(f"  ({absentees})")
    ranked = sorted(
        (c for ex in stats.exercises for c in ex.checks if c.rate is not None and c.rate < 1),
        key=lambda c: (c.rate or 0.0, c.id),
    )
    if ranked:
        lines.append("Checks passed least often:")
        for check in ranked[:worst]:
            lines.append(f"  {_pct(check.rate):>4}  {check.name} ({check.passed}/{check.ran})")
    return "\n".join(lines) + "\n"
