"""Altair charts of the app, and their export to PNG/SVG (vl-convert, works offline)."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd

from sessrec.ui.palette import label_colours

def table_height(n_rows: int) -> int:
    """Pixels for an ``st.dataframe`` of ``n_rows`` rows with no inner scroll (header included)."""
    return 35 * (n_rows + 1) + 3


def model_colour_scale(labels) -> alt.Scale:
    """One colour per label from the app's one palette (:mod:`sessrec.ui.palette`): a model's own
    colour, a shade of it for its variants, a distinct colour for anything else."""
    colours = label_colours(labels)
    return alt.Scale(domain=list(colours), range=list(colours.values()))


def model_legend(n_labels: int, title: str | None = None, **options) -> alt.Legend:
    """A legend that shows every label: no symbol limit, long labels kept; past 10 labels it goes
    below the chart in four columns, where it adds to the chart's height instead of being cut at it."""
    many = n_labels > 10
    return alt.Legend(title=title, symbolLimit=0, labelLimit=260, columns=4 if many else 1,
                      orient="bottom" if many else "right", symbolStrokeWidth=3, symbolOpacity=1, **options)


def legend_room(labels, plot_height: int) -> int:
    """The height to give a chart so its plot keeps ``plot_height`` px above a :func:`model_legend`
    placed below it (Streamlit fits the whole chart, legend included, into the height)."""
    n = len(set(labels))
    return plot_height + (26 * -(-n // 4) + 30 if n > 10 else 0)


def model_colour(frame: pd.DataFrame, field: str = "Model", title: str | None = None, **legend) -> alt.Color:
    """Colour by ``field`` with the palette and :func:`model_legend`."""
    scale = model_colour_scale(frame[field])
    return alt.Color(f"{field}:N", scale=scale, legend=model_legend(len(scale.domain), title or field, **legend))


def rank_moves(frame: pd.DataFrame, metric_label: str) -> alt.Chart:
    """Slope chart: each model's rank under published settings (left) and tuned (right)."""
    base = alt.Chart(frame).encode(
        x=alt.X("View:N", sort=["Published settings", "Tuned, equal budget"], title=None,
                axis=alt.Axis(labelAngle=0, labelLimit=0)),
        y=alt.Y("Rank:Q", scale=alt.Scale(reverse=True, domainMin=1), title=f"rank by {metric_label} (1 = best)"),
        color=model_colour(frame, symbolType="stroke"),
        detail="Model:N", tooltip=["Model", "View", "Rank", alt.Tooltip("Value:Q", format=".4f")],
    )
    return (base.mark_line(point=True) + base.mark_text(align="left", dx=6).encode(text="Model:N")).properties(
        height=legend_room(frame["Model"], bar_height(frame["Model"].nunique(), 22)))


def job_loss(frame: pd.DataFrame) -> alt.Chart:
    """A training job's loss per epoch: whole-number epochs on the axis, a point even after one epoch."""
    data = frame.assign(epoch=frame["epoch"] if "epoch" in frame else range(1, len(frame) + 1))
    last = int(data["epoch"].max())
    return (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="epoch", scale=alt.Scale(domain=[1, max(last, 2)]),
                    axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("loss:Q", title="loss", scale=alt.Scale(zero=False)),
            tooltip=["epoch", alt.Tooltip("loss:Q", format=".4f")],
        )
        .properties(height=160)
    )


def bar_height(n_items: int, per_item: int = 24) -> int:
    return max(140, per_item * n_items + 50)


def recommendation_bars(frame: pd.DataFrame, colour: str = "#be0032") -> alt.Chart:
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
    rule = alt.Chart(pd.DataFrame({"x": [threshold]})).mark_rule(color="#be0032", strokeDash=[4, 3]).encode(
        x="x:Q", tooltip=[alt.Tooltip("x:Q", title="score of the k-th item", format=".4g")])
    return bars + rule


def grouped_bars(frame: pd.DataFrame, value: str = "mean", error: str | None = "std",
                 column: str | None = None) -> alt.Chart:
    """frame: Model, Metric (e.g. "Recall@20"), mean, std; bars grouped by metric."""
    scale = model_colour_scale(frame["Model"])
    base = alt.Chart(frame).encode(
        x=alt.X("Metric:N", title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("Model:N", scale=alt.Scale(domain=scale.domain)),
        color=model_colour(frame),
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
    chart = chart.properties(height=legend_room(frame["Model"], 300))
    return chart


def metric_curves(frame: pd.DataFrame) -> alt.Chart:
    """frame: Model, metric, k, mean -> one small panel per metric, value vs k."""
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("k:Q", title="cut-off k", scale=alt.Scale(type="log"), axis=alt.Axis(values=sorted(frame["k"].unique().tolist()))),
            y=alt.Y("mean:Q", title=None),
            color=model_colour(frame),
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
            color=model_colour(frame, "Run", "run", symbolSize=120),
            tooltip=["Run", "epoch", alt.Tooltip(f"{y}:Q", format=".4g"), *hover],
        )
        .properties(height=legend_room(frame["Run"], 300))
    )


def mean_curves(frame: pd.DataFrame, title: str = "training loss") -> alt.Chart:
    """frame from :func:`sessrec.ui.curves.aggregate_seeds`: a mean line per configuration
    with a ±1 std band over its seeds."""
    base = alt.Chart(frame).encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
        color=model_colour(frame, "Config", "configuration", symbolSize=120),
    )
    band = base.mark_area(opacity=0.18).encode(y=alt.Y("lower:Q", title=title, scale=alt.Scale(zero=False)),
                                                y2="upper:Q")
    line = base.mark_line(point=True).encode(
        y=alt.Y("mean:Q", title=title, scale=alt.Scale(zero=False)),
        tooltip=["Config", "epoch", alt.Tooltip("mean:Q", format=".4g"), alt.Tooltip("std:Q", format=".2g"), "seeds"],
    )
    return (band + line).properties(height=legend_room(frame["Config"], 300))


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


def replay_ranks(frame: pd.DataFrame, max_rank: int, step: int | None = None) -> alt.Chart:
    """frame: Step, Model, Rank (of the true next item); ``step``: the one shown below, marked."""
    lines = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("Step:O", title="position predicted", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("Rank:Q", title="rank of the true next item (log, 1 = top)",
                    scale=alt.Scale(type="log", reverse=True, domainMin=1, domainMax=max(max_rank, 2))),
            color=model_colour(frame),
            tooltip=["Step", "Model", "Rank", "Target"],
        )
    )
    if step is not None:
        mark = alt.Chart(pd.DataFrame({"Step": [step]})).mark_rule(color="#495057", strokeDash=[4, 3]).encode(
            x="Step:O", tooltip=[alt.Tooltip("Step:O", title="the step shown below")])
        lines = lines + mark
    return lines.properties(height=legend_room(frame["Model"], 300))


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
    order = frame.drop_duplicates("bucket").sort_values("order")["bucket"].tolist()
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("bucket:N", sort=order, title=x_title, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("value:Q", title=title),
            color=model_colour(frame),
            tooltip=["Model", alt.Tooltip("bucket:N", title=x_title), alt.Tooltip("value:Q", format=".4f"),
                     alt.Tooltip("n:Q", title="test events", format=",")],
        )
        .properties(height=legend_room(frame["Model"], 300))
    )


def cost_accuracy(frame: pd.DataFrame, y: str, y_title: str, label: str = "Run", log_x: bool = False) -> alt.Chart:
    """frame: Run, Train s, <y>, <label> -> accuracy against training time, one colour per run
    (a legend instead of text labels, which overlap when runs have similar cost and accuracy);
    ``log_x`` for costs that span orders of magnitude (seconds of counting to hours of training)."""
    return (
        alt.Chart(frame)
        .mark_point(size=110, filled=True, opacity=0.85)
        .encode(
            x=alt.X("Train s:Q", title="training cost (s" + (", log scale)" if log_x else ")"),
                    scale=alt.Scale(type="log") if log_x else alt.Scale(zero=False)),
            y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(zero=False)),
            color=model_colour(frame, label, "run"),
            shape=alt.Shape(f"{label}:N", legend=None),
            tooltip=["Run", alt.Tooltip("Train s:Q", format=".1f"), alt.Tooltip(f"{y}:Q", format=".4f")]
            + (["Cost from"] if "Cost from" in frame.columns else []),
        )
        .properties(height=legend_room(frame[label], 320))
    )
