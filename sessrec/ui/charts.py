"""Altair charts of the app, and their export to PNG/SVG (vl-convert, works offline)."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd

from sessrec.models.registry import colour_of

#: colours for labels that are not registered models (run variants, published rows), none a model's
EXTRA_COLOURS = ("#ffa94d", "#4dabf7", "#69db7c", "#b197fc", "#ff8787", "#3bc9db", "#ffd43b", "#adb5bd")


def model_colour_scale(labels) -> alt.Scale:
    """One colour per label: a registered model's own colour (the same on every page), else the
    next of :data:`EXTRA_COLOURS`."""
    labels = list(dict.fromkeys(labels))
    colours, i = [], 0
    for label in labels:
        own = colour_of(str(label))
        if own is not None:
            colours.append(own)
        else:
            colours.append(EXTRA_COLOURS[i % len(EXTRA_COLOURS)])
            i += 1
    return alt.Scale(domain=labels, range=colours)


def rank_moves(frame: pd.DataFrame, metric_label: str) -> alt.Chart:
    """Slope chart: each model's rank under published settings (left) and tuned (right)."""
    scale = model_colour_scale(frame["Model"])
    base = alt.Chart(frame).encode(
        x=alt.X("View:N", sort=["Published settings", "Tuned, equal budget"], title=None,
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("Rank:Q", scale=alt.Scale(reverse=True, domainMin=1), title=f"rank by {metric_label} (1 = best)"),
        color=alt.Color("Model:N", scale=scale, legend=alt.Legend(columns=2, symbolType="stroke")),
        detail="Model:N", tooltip=["Model", "View", "Rank", alt.Tooltip("Value:Q", format=".4f")],
    )
    return (base.mark_line(point=True) + base.mark_text(align="left", dx=6).encode(text="Model:N")).properties(
        height=bar_height(frame["Model"].nunique(), 22))


def bar_height(n_items: int, per_item: int = 24) -> int:
    return max(140, per_item * n_items + 50)


def recommendation_bars(frame: pd.DataFrame, colour: str = "#d6336c") -> alt.Chart:
    """Horizontal bars: the top-k items (best at the top) and their scores."""
    data = frame.assign(Label=[f"{r}. {n}" for r, n in zip(frame["Rank"], frame["Name"])])
    return (
        alt.Chart(data)
        .mark_bar(color=colour, cornerRadiusEnd=3)
        .encode(
            x=alt.X("Score:Q", title="score"),
            y=alt.Y("Label:N", sort=None, title=None, axis=alt.Axis(labelLimit=220)),
            tooltip=["Rank", "ItemId", "Name", "Category", alt.Tooltip("Score:Q", format=".4g")],
        )
        .properties(height=bar_height(len(data)) - 50)
    )


def rank_trajectory(frame: pd.DataFrame, names: dict[int, str], max_rank: int) -> alt.Chart:
    data = frame.assign(Item=[names.get(i, str(i)) for i in frame["ItemId"]],
                        ClickedName=[names.get(i, str(i)) for i in frame["Clicked"]])
    order = list(dict.fromkeys(names.get(i, str(i)) for i in frame["ItemId"]))
    return (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("Step:O", title="after click", axis=alt.Axis(labelAngle=0)),
            # padded beyond rank 1 and the worst rank, so no line or point is cut at the edge
            y=alt.Y("Rank:Q", title="rank (log scale, 1 = top)",
                    scale=alt.Scale(type="log", reverse=True, nice=False,
                                    domain=[0.8, max(max_rank, 2) * 1.25])),
            color=alt.Color("Item:N", sort=order, title="current top items"),
            tooltip=["Step", alt.Tooltip("ClickedName:N", title="clicked"), "Item", "Rank"],
        )
        .properties(height=320)
    )


def score_histogram(hist: pd.DataFrame, threshold: float | None) -> alt.LayerChart | alt.Chart:
    bars = (
        alt.Chart(hist)
        .mark_bar(color="#adb5bd")
        .encode(
            x=alt.X("Low:Q", bin="binned", title="score"),
            x2="High:Q",
            y=alt.Y("Count:Q", title="items (log scale)", scale=alt.Scale(type="symlog"),
                    axis=alt.Axis(values=[1, 10, 100, 1000, 10000, 100000])),
            tooltip=[alt.Tooltip("Low:Q", format=".4g"), alt.Tooltip("High:Q", format=".4g"), "Count"],
        )
        .properties(height=260)
    )
    if threshold is None:
        return bars
    rule = alt.Chart(pd.DataFrame({"x": [threshold]})).mark_rule(color="#d6336c", strokeDash=[4, 3]).encode(
        x="x:Q", tooltip=[alt.Tooltip("x:Q", title="score of the k-th item", format=".4g")])
    return bars + rule


def grouped_bars(frame: pd.DataFrame, value: str = "mean", error: str | None = "std",
                 column: str | None = None) -> alt.Chart:
    """frame: Model, Metric (e.g. "Recall@20"), mean, std; bars grouped by metric."""
    scale = model_colour_scale(frame["Model"])
    base = alt.Chart(frame).encode(
        x=alt.X("Metric:N", title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("Model:N", scale=alt.Scale(domain=scale.domain)),
        color=alt.Color("Model:N", scale=scale),
    )
    tooltip = ["Model", "Metric", alt.Tooltip(f"{value}:Q", format=".4f")]
    if error:
        tooltip.append(alt.Tooltip(f"{error}:Q", format=".4f"))
    chart = base.mark_bar().encode(y=alt.Y(f"{value}:Q", title="value"), tooltip=tooltip)
    if error and frame[error].fillna(0).gt(0).any():
        data = frame.assign(lo=frame[value] - frame[error], hi=frame[value] + frame[error])
        bars = alt.Chart(data).mark_errorbar(color="black").encode(
            x=alt.X("Metric:N"), xOffset=alt.XOffset("Model:N", scale=alt.Scale(domain=scale.domain)),
            y=alt.Y("lo:Q", title="value"), y2="hi:Q")
        chart = chart + bars
    chart = chart.properties(height=300)
    return chart


def metric_curves(frame: pd.DataFrame) -> alt.Chart:
    """frame: Model, metric, k, mean -> one small panel per metric, value vs k."""
    scale = model_colour_scale(frame["Model"])
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("k:Q", title="cut-off k", scale=alt.Scale(type="log"), axis=alt.Axis(values=sorted(frame["k"].unique().tolist()))),
            y=alt.Y("mean:Q", title=None),
            color=alt.Color("Model:N", scale=scale),
            tooltip=["Model", "metric", "k", alt.Tooltip("mean:Q", format=".4f")],
        )
        .properties(width=260, height=220)
        .facet(column=alt.Column("metric:N", title=None))
        .resolve_scale(y="independent")
    )


def loss_curves(frame: pd.DataFrame, y: str = "loss", title: str = "training loss") -> alt.Chart:
    """frame: Run, epoch, <y>, plus hover columns."""
    hover = [c for c in frame.columns if c not in ("Run", "epoch", y)][:12]
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y(f"{y}:Q", title=title, scale=alt.Scale(zero=False)),
            color=alt.Color("Run:N", title="run", legend=alt.Legend(labelLimit=320)),
            tooltip=["Run", "epoch", alt.Tooltip(f"{y}:Q", format=".4g"), *hover],
        )
        .properties(height=300)
    )


def mean_curves(frame: pd.DataFrame, title: str = "training loss") -> alt.Chart:
    """frame from :func:`sessrec.ui.curves.aggregate_seeds`: a mean line per configuration
    with a ±1 std band over its seeds."""
    base = alt.Chart(frame).encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("Config:N", title="configuration", legend=alt.Legend(labelLimit=320)),
    )
    band = base.mark_area(opacity=0.18).encode(y=alt.Y("lower:Q", title=title, scale=alt.Scale(zero=False)),
                                                y2="upper:Q")
    line = base.mark_line(point=True).encode(
        y=alt.Y("mean:Q", title=title, scale=alt.Scale(zero=False)),
        tooltip=["Config", "epoch", alt.Tooltip("mean:Q", format=".4g"), alt.Tooltip("std:Q", format=".2g"), "seeds"],
    )
    return (band + line).properties(height=300)


def log_histogram(frame: pd.DataFrame, x: str, y: str, x_title: str, y_title: str, colour: str = "#1c7ed6") -> alt.Chart:
    return (
        alt.Chart(frame)
        .mark_bar(color=colour)
        .encode(
            x=alt.X(f"{x}:Q", title=x_title),
            y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(type="symlog"),
                    axis=alt.Axis(values=[1, 10, 100, 1000, 10000, 100000, 1000000])),
            tooltip=[x, y],
        )
        .properties(height=260)
    )


def log_log_points(frame: pd.DataFrame, x: str, y: str, x_title: str, y_title: str, colour: str = "#37b24d") -> alt.Chart:
    return (
        alt.Chart(frame)
        .mark_circle(color=colour, opacity=0.6)
        .encode(
            x=alt.X(f"{x}:Q", title=x_title, scale=alt.Scale(type="log")),
            y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(type="log")),
            tooltip=[x, y],
        )
        .properties(height=260)
    )


def replay_ranks(frame: pd.DataFrame, max_rank: int) -> alt.Chart:
    """frame: Step, Model, Rank (of the true next item)."""
    scale = model_colour_scale(frame["Model"])
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("Step:O", title="position predicted", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("Rank:Q", title="rank of the true next item (log, 1 = top)",
                    scale=alt.Scale(type="log", reverse=True, domainMin=1, domainMax=max(max_rank, 2))),
            color=alt.Color("Model:N", scale=scale),
            tooltip=["Step", "Model", "Rank", "Target"],
        )
        .properties(height=300)
    )


def to_png(chart: alt.TopLevelMixin, scale: float = 2.0) -> bytes:
    import vl_convert as vlc

    return vlc.vegalite_to_png(chart.to_json(), scale=scale)


def to_svg(chart: alt.TopLevelMixin) -> str:
    import vl_convert as vlc

    return vlc.vegalite_to_svg(chart.to_json())


def spec_json(chart: alt.TopLevelMixin) -> str:
    return json.dumps(chart.to_dict(), sort_keys=True)


def breakdown_lines(frame: pd.DataFrame, title: str, x_title: str) -> alt.Chart:
    """frame: Model, bucket, order, value, n -> one line per model over the buckets."""
    scale = model_colour_scale(frame["Model"])
    order = frame.drop_duplicates("bucket").sort_values("order")["bucket"].tolist()
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("bucket:N", sort=order, title=x_title, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("value:Q", title=title),
            color=alt.Color("Model:N", scale=scale),
            tooltip=["Model", alt.Tooltip("bucket:N", title=x_title), alt.Tooltip("value:Q", format=".4f"),
                     alt.Tooltip("n:Q", title="test events", format=",")],
        )
        .properties(height=300)
    )


def cost_accuracy(frame: pd.DataFrame, y: str, y_title: str, label: str = "Run") -> alt.Chart:
    """frame: Run, Train s, <y>, <label> -> accuracy against training time, one colour per run
    (a legend instead of text labels, which overlap when runs have similar cost and accuracy)."""
    return (
        alt.Chart(frame)
        .mark_point(size=110, filled=True, opacity=0.85)
        .encode(
            x=alt.X("Train s:Q", title="training time (s, mean over seeds)", scale=alt.Scale(zero=False)),
            y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(zero=False)),
            color=alt.Color(f"{label}:N", title="run", legend=alt.Legend(labelLimit=220)),
            shape=alt.Shape(f"{label}:N", legend=None),
            tooltip=["Run", alt.Tooltip("Train s:Q", format=".1f"), alt.Tooltip(f"{y}:Q", format=".4f")],
        )
        .properties(height=320)
    )
