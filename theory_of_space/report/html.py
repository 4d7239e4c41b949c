"""A static, self-contained HTML report of stored runs: the tables, the figures and a page per episode.

Everything is inline (pictures and figures as data URIs, styles in the page), so ``report.html`` and
its ``episodes/`` pages open from disk with no network. A few lines of script only record, for the
automated browser check, whether every picture loaded and whether any script error happened.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from theory_of_space.report.plots import INSTALL_HINT, make_figures, plotting_available
from theory_of_space.report.summary import (
    EpisodeData,
    format_summary,
    load_runs,
    summarise,
    summary_tables,
)
from theory_of_space.runner.store import write_atomic, write_json

SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"
EPISODES_FOLDER = "episodes"
FIGURES_FOLDER = "figures"

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #bbb;padding:.2em .5em;text-align:right}
th{background:#eef}td:first-child,th:first-child{text-align:left}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em;border-left:3px solid #99c;max-height:30em;overflow:auto}
.turn{border-top:2px solid #ccd;margin-top:1em;padding-top:.5em}.maps{display:flex;gap:1em;flex-wrap:wrap}
.failed{color:#a00}figure{display:inline-block;margin:.5em}img{max-width:100%}
"""
CHECK_SCRIPT = """
window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message||e));});
window.addEventListener('load',function(){var all=Array.prototype.slice.call(document.images);
var ok=all.filter(function(i){return i.complete&&i.naturalWidth>0;}).length;
document.body.setAttribute('data-images',ok+'/'+all.length);
document.body.setAttribute('data-errors',String(window.__errors.length));});
"""
"""Records on ``<body>`` how many pictures loaded (``data-images="ok/all"``) and how many script errors happened."""


@dataclass(frozen=True)
class WrittenReport:
    """Where a report went, its tables as text, and a note (e.g. why there are no figures)."""

    text: str
    summary_path: Path
    html_path: Path
    note: str = ""


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style><script>{CHECK_SCRIPT}</script></head><body>{body}</body></html>")


def _table_html(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def map_svg(entries: dict[str, tuple[float, float, str | None]], title: str, bounds: tuple[float, ...]) -> str:
    """A small map in the allocentric frame (north up): one labelled dot per item, a tick for its facing."""
    x0, y0, x1, y1 = bounds
    size, pad = 220, 14
    scale = (size - 2 * pad) / max(x1 - x0, y1 - y0, 1)
    arrows = {"north": (0, -1), "south": (0, 1), "east": (1, 0), "west": (-1, 0)}
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{size}' height='{size + 16}' "
             f"viewBox='0 0 {size} {size + 16}'><rect width='{size}' height='{size}' fill='#fafafa' stroke='#999'/>"
             f"<text x='4' y='{size + 12}' font-size='11'>{html.escape(title)}</text>"]
    for name, (x, y, facing) in sorted(entries.items()):
        cx, cy = pad + (x - x0) * scale, size - pad - (y - y0) * scale
        colour = "#c00" if name == "agent" else "#247"
        parts.append(f"<circle cx='{cx:.1f}' cy='{cy:.1f}' r='4' fill='{colour}'/>")
        if facing in arrows:
            dx, dy = arrows[facing]
            parts.append(f"<line x1='{cx:.1f}' y1='{cy:.1f}' x2='{cx + 9 * dx:.1f}' y2='{cy + 9 * dy:.1f}' "
                         f"stroke='{colour}' stroke-width='2'/>")
        parts.append(f"<text x='{cx + 5:.1f}' y='{cy - 5:.1f}' font-size='9'>{html.escape(name)}</text>")
    parts.append("</svg>")
    return data_uri("".join(parts).encode(), "image/svg+xml")


def _true_entries(scene: dict[str, Any], turn: dict[str, Any]) -> dict[str, tuple[float, float, str | None]]:
    start = scene["start"]["cell"]
    observed = set(turn.get("info", {}).get("observed", []))
    entries: dict[str, tuple[float, float, str | None]] = {}
    for obj in scene["objects"]:
        if obj["name"] in observed or not observed:
            entries[obj["name"]] = (obj["cell"][0] - start[0], obj["cell"][1] - start[1], obj.get("facing"))
    agent = turn.get("info", {}).get("agent", {})
    if "allocentric" in agent:
        entries["agent"] = (agent["allocentric"][0], agent["allocentric"][1], agent.get("facing"))
    return entries


def _predicted_entries(reply: str) -> dict[str, tuple[float, float, str | None]] | None:
    try:
        from theory_of_space.probes.cogmap import parse_cogmap
    except ImportError:
        return None
    parsed = parse_cogmap(reply, "global")
    if not parsed.valid:
        return None
    return {name: (e.position[0], e.position[1], None if e.facing is None else e.facing.label)
            for name, e in parsed.entries.items()}


def _bounds(scene: dict[str, Any]) -> tuple[float, float, float, float]:
    start = scene["start"]["cell"]
    width, height = len(scene["mask"]), len(scene["mask"][0])
    return (-start[0], -start[1], width - start[0], height - start[1])


def episode_page(episode: EpisodeData, index: int) -> str:
    """The page of one episode: scores, failed calls, then every turn's messages, pictures and maps."""
    s = episode.settings
    title = f"{episode.agent} · {episode.scene_id} · {s['world']} · {s['setting']}"
    body = [f"<p><a href='../{REPORT_FILE}'>back to the report</a></p><h1>{html.escape(title)}</h1>"]
    accuracy = episode.accuracy
    explore = episode.metrics.get("exploration", {})
    body.append("<h2>Scores</h2>" + _table_html(
        ["Accuracy", "Node coverage", "Information gain", "Steps", "Failed calls"],
        [[("-" if accuracy is None else f"{100 * accuracy:.1f}"), str(explore.get("node_coverage", "-")),
          str(explore.get("information_gain", "-")), str(explore.get("steps", "-")), str(episode.failed_calls)]]))
    failures = episode.failures()
    if failures:
        body.append("<h2>Failed calls</h2><ul>" + "".join(
            f"<li class='failed'>{html.escape(k)}: {html.escape(r)}</li>" for k, r in failures) + "</ul>")
    if episode.answers:
        rows = [[a["task"], a["qid"], (a.get("reply") or "")[-120:], a.get("question", {}).get("answer", ""),
                 f"{a['score']['value']:.2f}"] for a in episode.answers]
        body.append("<h2>Questions</h2>" + _table_html(["Task", "Question", "Reply (end)", "Truth", "Score"], rows))
    messages = _messages(episode.folder)
    probes = {int(r["turn"]): str(r.get("reply") or "") for r in episode.probes
              if r.get("kind") == "global" and isinstance(r.get("turn"), int)}
    bounds = _bounds(episode.scene)
    if s["setting"] == "passive" and len(messages) > 1:
        body.append("<h2>History prompt</h2>" + _message_html(messages[1], episode.folder))
    body.append("<h2>Turns</h2>")
    for turn in episode.turns:
        number = turn.get("turn", 0)
        error = f"<p class='failed'>failed call: {html.escape(str(turn['error']))}</p>" if turn.get("error") else ""
        invalid = "" if turn.get("valid", True) else f" (invalid: {html.escape(str(turn.get('invalid_reason')))})"
        part = [f"<div class='turn'><h3>Turn {number}{invalid}</h3>{error}",
                f"<pre>{html.escape(turn.get('reply', ''))}</pre><pre>{html.escape(turn.get('message', ''))}</pre>"]
        if s["setting"] == "active" and 2 * number + 1 < len(messages):
            part.append(_images_html(messages[2 * number + 1], episode.folder))
        truth = map_svg(_true_entries(episode.scene, turn), "true", bounds)
        maps = [f"<img alt='true map, turn {number}' src='{truth}'>"]
        reply = probes.get(number)
        predicted = _predicted_entries(reply) if reply is not None else None
        if predicted is not None:
            maps.insert(0, f"<img alt='predicted map, turn {number}' src='{map_svg(predicted, 'predicted', bounds)}'>")
        elif reply is not None:
            maps.insert(0, "<p>predicted map: not valid JSON</p>")
        part.append("<div class='maps'>" + "".join(maps) + "</div></div>")
        body.append("".join(part))
    body.append(_false_belief_html(episode))
    return _page(title, "".join(body))


def _false_belief_html(episode: EpisodeData) -> str:
    """The false-belief phase of an episode page: its identification scores, then every phase turn."""
    turns = sorted((r for r in episode.false_belief if str(r.get("key", "")).startswith("false_belief/t")),
                   key=lambda r: int(r.get("turn", 0)))
    if not turns:
        return ""
    record = episode.false_belief_record or {}
    found = record.get("identification", {})
    cells = [["-" if found.get(k) is None else f"{found[k]:.2f}" for k in ("f1_pos", "f1_ori", "f1_overall", "steps")]]
    changes = ", ".join(f"{c.get('name')}: {c.get('kind')}" for c in record.get("changes", []))
    part = ["<h2>False-belief phase</h2>", f"<p>Changes: {html.escape(changes)}</p>",
            _table_html(["Ident. F1 pos", "Ident. F1 ori", "Ident. F1 overall", "Steps"], cells)]
    for turn in turns:
        error = f"<p class='failed'>failed call: {html.escape(str(turn['error']))}</p>" if turn.get("error") else ""
        invalid = "" if turn.get("valid", True) else f" (invalid: {html.escape(str(turn.get('invalid_reason')))})"
        part.append(f"<div class='turn'><h3>Phase turn {turn.get('turn')}{invalid}</h3>{error}"
                    f"<pre>{html.escape(turn.get('reply', ''))}</pre><pre>{html.escape(turn.get('message', ''))}</pre>"
                    "</div>")
    return "".join(part)


def _messages(folder: Path) -> list[dict[str, Any]]:
    path = folder / "messages.json"
    return json.loads(path.read_text()) if path.is_file() else []


def _images_html(message: dict[str, Any], folder: Path) -> str:
    tags = []
    for name in message.get("images", []):
        path = folder / name
        if path.is_file():
            tags.append(f"<img alt='{html.escape(name)}' width='192' src='{data_uri(path.read_bytes(), 'image/png')}'>")
    return "<div class='maps'>" + "".join(tags) + "</div>" if tags else ""


def _message_html(message: dict[str, Any], folder: Path) -> str:
    return f"<pre>{html.escape(message.get('content', ''))}</pre>" + _images_html(message, folder)


def write_report(runs: list[Path], out: Path) -> WrittenReport:
    """Write ``summary.json``, ``report.html``, ``episodes/*.html`` and (with matplotlib) ``figures/`` to ``out``.

    Raises:
        FileNotFoundError: a run folder is not one.
    """
    episodes = load_runs(runs)
    summary = summarise(episodes, runs)
    out = Path(out)
    write_json(out / SUMMARY_FILE, summary)
    note = ""
    figures: list[Path] = []
    if plotting_available():
        figures = make_figures(summary, episodes, out / FIGURES_FOLDER)
    else:
        note = f"no figures: matplotlib is not installed ({INSTALL_HINT})"
    body = ["<h1>Theory of Space report</h1>",
            "<p>Runs: " + ", ".join(html.escape(str(r)) for r in runs) + f"; {len(episodes)} episodes.</p>"]
    for title, header, rows in summary_tables(summary):
        body.append(f"<h2>{html.escape(title)}</h2>" + _table_html(header, rows))
    if figures:
        body.append("<h2>Figures</h2>" + "".join(
            f"<figure><img alt='{f.stem}' src='{data_uri(f.read_bytes(), 'image/svg+xml')}'>"
            f"<figcaption>{f.stem} (also {f.with_suffix('.pdf').name})</figcaption></figure>" for f in figures))
    elif note:
        body.append(f"<p>{html.escape(note)}</p>")
    if summary["problems"]:
        body.append("<h2>Problems found in stored files</h2><ul>" + "".join(
            f"<li>{html.escape(p)}</li>" for p in summary["problems"]) + "</ul>")
    body.append("<h2>Episodes</h2><ul>")
    for index, episode in enumerate(episodes):
        name = f"{EPISODES_FOLDER}/{index:04d}.html"
        write_atomic(out / name, episode_page(episode, index).encode())
        accuracy = "-" if episode.accuracy is None else f"{100 * episode.accuracy:.1f}"
        body.append(f"<li><a href='{name}'>{html.escape(episode.group)} · {episode.scene_id}</a>: accuracy "
                    f"{accuracy}, failed calls {episode.failed_calls}</li>")
    body.append("</ul>")
    html_path = out / REPORT_FILE
    write_atomic(html_path, _page("Theory of Space report", "".join(body)).encode())
    return WrittenReport(format_summary(summary), out / SUMMARY_FILE, html_path, note)
