"""The monthly trend as inline SVG, drawn on the server: no chart library, no external host, no JS."""
from __future__ import annotations

import math

from markupsafe import Markup, escape

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 36, 44
COLOURS = {"group": "#b71c1c", "individual": "#1565c0"}


def nice_ceiling(value: float, ticks: int = 5) -> tuple[float, float]:
    """An axis maximum at or above value and its tick step (1, 2 or 5 × 10^n)."""
    if value <= 0:
        return 1.0, 0.2
    raw = value / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return step * math.ceil(value / step - 1e-9), step


def _text_width(text: str) -> float:
    """Rough width in px of 12px text: CJK characters are about twice as wide as Latin ones."""
    return sum(13 if ord(char) > 0x2E80 else 7 for char in text)


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def trend_svg(months: list[dict], *, kinds, kind_labels: dict[str, str], target_label: str, axis_label: str,
              title: str) -> Markup:
    """Grouped bars of claimed hours per month and kind, with the month's target share as a dashed line."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = max(len(months), 1)
    peak = max([m["target_hours"] for m in months] + [m["claimed"][k]["hours"] for m in months for k in kinds] + [0])
    top, step = nice_ceiling(peak)

    def y(hours: float) -> float:
        return TOP + plot_h - plot_h * hours / top

    slot = plot_w / count
    bar = slot * 0.7 / max(len(kinds), 1)
    years = {m["month"][:4] for m in months}
    label_every = math.ceil(count / 24)
    parts = [
        f'<svg class="trend" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    tick = 0.0
    while tick <= top + 1e-9:
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{_number(tick)}</text>')
        tick += step
    parts.append(f'<text class="axis" x="14" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {TOP + plot_h / 2:.1f})">{escape(axis_label)}</text>')
    points = []
    for index, month in enumerate(months):
        x0 = LEFT + index * slot + slot * 0.15
        for k_index, kind in enumerate(kinds):
            hours = month["claimed"][kind]["hours"]
            parts.append(
                f'<rect class="bar" data-month="{month["month"]}" data-kind="{kind}" data-hours="{hours:.2f}" '
                f'x="{x0 + k_index * bar:.1f}" y="{y(hours):.1f}" width="{bar:.1f}" height="{y(0) - y(hours):.1f}" '
                f'fill="{COLOURS[kind]}"><title>{month["month"]} {escape(kind_labels[kind])} {hours:.2f} h</title></rect>'
            )
        centre = LEFT + index * slot + slot / 2
        points.append((centre, y(month["target_hours"]), month))
        if index % label_every == 0:
            text = month["month"][5:] if len(years) == 1 else month["month"][2:]
            parts.append(f'<text class="tick" x="{centre:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{text}</text>')
    if points:
        path = " ".join(f"{x:.1f},{py:.1f}" for x, py, _ in points)
        parts.append(f'<polyline class="target" points="{path}" fill="none" stroke="#333" stroke-dasharray="5 4"/>')
        for x, py, month in points:
            parts.append(f'<circle class="target" data-month="{month["month"]}" data-hours="{month["target_hours"]:.2f}" '
                         f'cx="{x:.1f}" cy="{py:.1f}" r="3" fill="#333"><title>{month["month"]} '
                         f'{escape(target_label)} {month["target_hours"]:.2f} h</title></circle>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#333"/>')
    legend_x = LEFT
    for kind in kinds:
        parts.append(f'<rect x="{legend_x}" y="10" width="12" height="12" fill="{COLOURS[kind]}"/>'
                     f'<text class="legend" x="{legend_x + 16}" y="20">{escape(kind_labels[kind])}</text>')
        legend_x += 30 + _text_width(kind_labels[kind])
    parts.append(f'<line x1="{legend_x}" x2="{legend_x + 20}" y1="16" y2="16" stroke="#333" stroke-dasharray="5 4"/>'
                 f'<text class="legend" x="{legend_x + 24}" y="20">{escape(target_label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
