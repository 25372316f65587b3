"""Run reports: what a job did, as JSON for machines and one self-contained HTML page for people.

Each run writes ``<reports>/<run-id>/report.json`` and ``report.html`` (quick-looks embedded as
data URIs, so the page can be mailed or archived alone), and copies them to ``latest.json`` /
``latest.html``. The folder keeps the newest ``keep`` runs. Reports live outside the product
store: a run with nothing new to do leaves the store untouched.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import math
import shutil
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from landpulse._version import __version__
from landpulse.io.files import write_atomic
from landpulse.production.jobspec import JobSpec
from landpulse.production.plan import Plan

if TYPE_CHECKING:  # the unit module (kernels, COG, quick-looks) is not needed to write a report
    from landpulse.production.units import UnitResult

REPORT_VERSION = 1


def _tile_areas(plan: Plan, results: Sequence[UnitResult]) -> list[dict[str, Any]]:
    """Per tile: lon/lat bounds, area and unit counts."""

    tiles: dict[str, dict[str, Any]] = {}
    for s in plan.scenes:
        t = tiles.setdefault(s.tile, {"tile": s.tile, "bbox": s.bbox, "scenes": 0, "written": 0, "failed": 0})
        t["scenes"] += 1
        if t["bbox"] is None:
            t["bbox"] = s.bbox
    for r in results:
        t = tiles.setdefault(r.tile, {"tile": r.tile, "bbox": r.bbox, "scenes": 0, "written": 0, "failed": 0})
        key = "failed" if r.status == "failed" else "written"
        t[key] += 1
        if r.bbox:
            t["bbox"] = r.bbox
    for t in tiles.values():
        b = t["bbox"]
        if b:
            w, s, e, n = b
            # spherical-earth area of a lon/lat box (km2): enough to read "one S2 tile" at a glance
            r_km = 6371.0088
            t["area_km2"] = round(r_km ** 2 * math.radians(e - w) * (math.sin(math.radians(n)) - math.sin(math.radians(s))), 1)
            t["bbox"] = [round(float(v), 6) for v in b]
    return [tiles[k] for k in sorted(tiles)]


def build_report(job: JobSpec, plan: Plan, results: Sequence[UnitResult], *, run_id: str, started: dt.datetime, status: str,
                 exit_code: int, timings: dict[str, float], cluster: dict[str, Any], orphans: int,
                 catalogue_files: list[str], fault: str | None = None) -> dict[str, Any]:
    """The JSON report of a run (see the module docstring)."""
    finished = dt.datetime.now(dt.UTC)
    counts = {k: sum(1 for r in results if r.status == k) for k in ("written", "replaced", "skipped", "failed", "stopped")}
    failed_scenes = sorted({s for r in results if r.status == "failed" for s in r.inputs}
                           | {f.scene for f in plan.failures})
    return {
        "landpulse_report": REPORT_VERSION,
        "job": job.name,
        "run_id": run_id,
        "status": status,
        "exit_code": exit_code,
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "software": f"landpulse {__version__}",
        "host": socket.gethostname(),
        "store": str(job.output.store),
        "cluster": cluster,
        "timings": timings,
        "summary": {
            "tiles": len(plan.tiles), "scenes": len(plan.scenes), "units_to_compute": len(plan.todo),
            "already_committed": len(plan.committed), "outside_dates": plan.out_of_dates,
            "damaged_recomputed": len(plan.damaged),
            "input_failures": len(plan.failures), **counts,
            "bytes_written": int(sum(r.bytes for r in results if r.status in ("written", "replaced"))),
            "gpu_faults": {k: sum(r.gpu_faults.get(k, 0) for r in results)
                           for k in sorted({k for r in results for k in r.gpu_faults})},
        },
        "failed_scenes": failed_scenes,
        "environment_fault": fault,
        # what changes the meaning of a product (no cloud mask, a classifier out of calibration)
        "warnings": [{"unit": r.unit, "warning": w} for r in results for w in r.warnings],
        "input_failures": [dict(f.__dict__) for f in plan.failures],
        "damaged_units": dict(plan.damaged),
        "units": [r.as_dict() for r in results],
        "areas": _tile_areas(plan, results),
        # monitoring units: the breaks that are new since the unit's previous run (pixels, hectares, dates)
        "new_breaks": [{"unit": r.unit, "tile": r.tile, **r.stats["new_breaks"]} for r in results
                       if r.status in ("written", "replaced") and "new_breaks" in r.stats],
        "orphans_removed": orphans,
        "catalogue_files_written": catalogue_files,
        "spec": job.model_dump(mode="json"),
    }


def write_report(report: dict[str, Any], folder: str | Path, *, keep: int = 60) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` for a run, update ``latest.*``, prune old runs."""
    folder = Path(folder)
    run_dir = folder / report["run_id"]
    run_dir.mkdir(parents=True, exist_ok=True)
    json_path = run_dir / "report.json"
    html_path = run_dir / "report.html"
    text, page = json.dumps(report, indent=2, default=str) + "\n", render_html(report)
    write_atomic(json_path, text, fsync=False)
    write_atomic(html_path, page, fsync=False)
    write_atomic(folder / "latest.json", text, fsync=False)  # a rename: a link planted there is replaced
    write_atomic(folder / "latest.html", page, fsync=False)
    runs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in runs[:-keep] if len(runs) > keep else []:
        shutil.rmtree(old, ignore_errors=True)
    return json_path, html_path


def _img(path: Path) -> str:
    try:
        data = base64.b64encode(path.read_bytes()).decode()
    except OSError:
        return '<span class="muted">no quick-look</span>'
    return f'<img alt="quick-look" src="data:image/png;base64,{data}">'


def _fmt(v: Any, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if isinstance(v, float) else html.escape(str(v))


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;margin:.5em 0} th,td{padding:.3em .5em;border-bottom:1px solid #eee;
text-align:left;vertical-align:top} th{background:#f6f6f6} .ok{color:#176117} .bad{color:#a40000;font-weight:600}
.muted{color:#888} .grid{display:flex;flex-wrap:wrap;gap:1em} .card{border:1px solid #ddd;border-radius:6px;
padding:.5em;width:250px} .card img{width:100%;image-rendering:pixelated;background:#eee} code{font-size:.92em}
.badge{display:inline-block;padding:.1em .6em;border-radius:1em;color:#fff} .b-ok{background:#2e7d32}
.b-partial{background:#c62828} .b-nothing-to-do{background:#546e7a}
"""


def render_html(report: dict[str, Any]) -> str:
    """A self-contained HTML page of a run report (quick-looks embedded)."""
    e = html.escape
    s = report["summary"]
    rows = []
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>landpulse run {e(report['run_id'])}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>landpulse run <code>{e(report['run_id'])}</code></h1>",
             f"<p>Job <b>{e(report['job'])}</b> &middot; <span class='badge b-{e(report['status'])}'>{e(report['status'])}</span>"
             f" &middot; exit status {report['exit_code']} &middot; {e(report['started'])} &rarr; {e(report['finished'])}"
             f" &middot; {e(report['software'])} on {e(report['host'])}</p>"]
    for k in ("tiles", "scenes", "units_to_compute", "already_committed", "written", "replaced", "failed",
              "input_failures", "outside_dates", "bytes_written"):
        rows.append(f"<tr><th>{e(k.replace('_', ' '))}</th><td>{_fmt(s.get(k, 0))}</td></tr>")
    for k, v in s.get("gpu_faults", {}).items():  # GPU out-of-memory recoveries (blocks split or run on the CPU)
        rows.append(f"<tr><th>GPU {e(k.replace('_', ' '))}</th><td class='bad'>{_fmt(v)}</td></tr>")
    parts.append("<h2>Summary</h2><table>" + "".join(rows) + "</table>")
    c = report.get("cluster", {})
    parts.append("<h2>Timings and cluster</h2><table>"
                 + "".join(f"<tr><th>{e(k)}</th><td>{_fmt(v)} s</td></tr>" for k, v in report["timings"].items())
                 + "".join(f"<tr><th>{e(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in c.items()) + "</table>")
    if report["failed_scenes"]:
        parts.append("<h2 class='bad'>Failures</h2><table><tr><th>unit / input</th><th>scenes</th><th>error</th></tr>")
        for u in report["units"]:
            if u["status"] == "failed":
                parts.append(f"<tr><td><code>{e(u['unit'])}</code></td><td>{e(', '.join(u['inputs']))}</td>"
                             f"<td class='bad'>{e(str(u['error_type']))}: {e(str(u['error']))}</td></tr>")
        for f in report["input_failures"]:
            parts.append(f"<tr><td>input</td><td>{e(f['scene'])}</td><td class='bad'>{e(f['kind'])}: {e(f['error'])}</td></tr>")
        parts.append("</table>")
    if report.get("warnings"):
        parts.append("<h2 class='bad'>Warnings</h2><table><tr><th>unit</th><th>warning</th></tr>"
                     + "".join(f"<tr><td><code>{e(w['unit'])}</code></td><td>{e(w['warning'])}</td></tr>"
                               for w in report["warnings"]) + "</table>")
    if report["areas"]:
        parts.append("<h2>Areas</h2><table><tr><th>tile</th><th>bbox (W, S, E, N)</th><th>area km&sup2;</th>"
                     "<th>scenes</th><th>units written</th><th>units failed</th></tr>")
        for a in report["areas"]:
            bbox = ", ".join(f"{v:.4f}" for v in a["bbox"]) if a.get("bbox") else "?"
            parts.append(f"<tr><td>{e(a['tile'])}</td><td>{bbox}</td><td>{_fmt(a.get('area_km2', '?'), 1)}</td>"
                         f"<td>{a['scenes']}</td><td>{a['written']}</td><td>{a['failed']}</td></tr>")
        parts.append("</table>")
    done = [u for u in report["units"] if u["status"] in ("written", "replaced")]
    if done:
        parts.append("<h2>Products written</h2><div class='grid'>")
        for u in done:
            st = u.get("stats", {})
            if st.get("areas_ha"):  # class products: hectares per class instead of min/mean/max
                stats = "; ".join(f"{k} {_fmt(v, 1)} ha" for k, v in st["areas_ha"].items())
            else:
                stats = (f"valid {st.get('valid_pixels', 0):,} px; min {_fmt(st.get('min', '-'))}, mean {_fmt(st.get('mean', '-'))},"
                         f" max {_fmt(st.get('max', '-'))}") if st else ""
            timing = ", ".join(f"{k} {v:.2f}" for k, v in u.get("timings", {}).items())
            parts.append(f"<div class='card'>{_img(Path(u['folder']) / 'thumbnail.png')}"
                         f"<div><code>{e(u['unit'])}</code><br>{e(', '.join(u['inputs']))}<br>"
                         f"<span class='muted'>{e(stats)}<br>{u['seconds']:.2f} s ({e(timing)})<br>"
                         f"{e(str(u.get('device', {}).get('name', '')))} &middot; {e(u['host'])}</span></div></div>")
        parts.append("</div>")
    parts.append("<h2>Job spec</h2><pre>" + e(json.dumps(report["spec"], indent=2)) + "</pre></body></html>\n")
    return "".join(parts)
