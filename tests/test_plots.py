"""Figure functions on small tables: files written, axis labels with units, job marks."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mwlc import plots
from mwlc.benchmarks import gather_benchmarks
from mwlc.monitor import USAGE_COLUMNS

PNG_MAGIC = b"\x89PNG"
T0 = pd.Timestamp("2026-11-26T10:00:00", tz="UTC")


def usage_table() -> pd.DataFrame:
    """30 samples, 2 s apart: job A runs from sample 0 to 20, job B from 5 to 29, a tag at 10."""
    rows = []
    for i in range(30):
        time = T0 + pd.Timedelta(seconds=2 * i)
        rows.append(
            {
                "time": time,
                "kind": "system",
                "n_pids": 3,
                "cpu_percent": 150.0,
                "load1": 1.0 + i / 30,
                "mem_used_mib": 3000.0,
                "mem_available_mib": 20000.0 - 100 * i,
                "swap_used_mib": 0.0,
            }
        )
        rows.append(
            {
                "time": time,
                "kind": "snakemake",
                "job": "snakemake",
                "rule": "snakemake",
                "pid": 1,
                "n_pids": 1,
                "cpu_percent": 2.0,
                "rss_mib": 200.0,
            }
        )
        if i <= 20:
            rows.append(
                {
                    "time": time,
                    "kind": "job",
                    "job": "fetch[archive=ztf]",
                    "rule": "fetch",
                    "wildcards": "archive=ztf",
                    "pid": 10,
                    "n_pids": 3,
                    "cpu_percent": 90.0,
                    "rss_mib": 10.0 * i,
                }
            )
        if i >= 5:
            rows.append(
                {
                    "time": time,
                    "kind": "job",
                    "job": "merge",
                    "rule": "merge",
                    "wildcards": "",
                    "pid": 20,
                    "n_pids": 1,
                    "cpu_percent": 40.0,
                    "rss_mib": 300.0,
                }
            )
        if i == 10:
            rows.append({"time": time, "kind": "tag", "job": "explode"})
    table = pd.DataFrame(rows).reindex(columns=USAGE_COLUMNS)
    for column in ("job", "rule", "wildcards"):
        table[column] = table[column].fillna("")
    return table


def ylabels(figure) -> list[str]:
    return [ax.get_ylabel() for ax in figure.axes if ax.get_visible()]


def texts(figure) -> list[str]:
    return [t.get_text() for ax in figure.axes for t in ax.texts] + [t.get_text() for t in figure.texts]


def test_overview_has_four_panels_with_units():
    figure = plots.plot_overview(usage_table(), title="demo", note="SYNTHETIC demo data")
    assert ylabels(figure) == [
        "1-min load\n(processes)",
        "CPU per job\n(% of one core)",
        "System memory\n(GiB)",
        "RSS per job\n(MiB)",
    ]
    assert figure.axes[-1].get_xlabel() == "Time (UTC)"
    assert figure.axes[0].get_title() == "demo (2026-11-26)"
    assert "SYNTHETIC demo data" in texts(figure)
    assert {"fetch[archive=ztf]", "merge", "explode"} <= set(texts(figure))  # jobs named at their start, tag
    plt.close(figure)


def test_overview_marks_true_starts_and_ends_only():
    spans = plots.job_spans(usage_table()).set_index("job")
    assert spans.loc["fetch[archive=ztf]", ["started", "ended"]].tolist() == [
        False,
        True,
    ]  # running at sample 0
    assert spans.loc["merge", ["started", "ended"]].tolist() == [True, False]  # still running at the end
    figure = plots.plot_overview(usage_table())
    markers = [line.get_marker() for line in figure.axes[1].lines]
    assert markers.count(">") == 1 and markers.count("s") == 1
    plt.close(figure)


def test_overview_window_and_file(tmp_path):
    usage = usage_table()
    assert len(plots.select_window(usage, ("10:00:10", "10:00:20"))["time"].unique()) == 6
    assert (
        len(plots.select_window(usage, ("2026-11-26T10:00:30", "2026-11-26T10:01:00"))["time"].unique()) == 15
    )
    path = tmp_path / "usage.csv"
    usage.assign(time=usage["time"].map(lambda t: t.isoformat())).to_csv(path, index=False)
    output = tmp_path / "figures" / "resources.png"
    plots.overview_figure_file(str(path), str(output), window=["10:00:00", "10:00:30"], title="demo")
    assert output.read_bytes()[:4] == PNG_MAGIC


def write_usage(usage: pd.DataFrame, path) -> None:
    usage.assign(time=usage["time"].map(lambda t: t.isoformat())).to_csv(path, index=False)


def test_the_overview_shows_every_invocation_of_a_run(tmp_path):
    """Killed, then rerun 3 hours later: Snakemake deleted the first usage.csv, the monitor's
    history keeps it; the figure spans both, with a break in the system's lines between them."""
    first, second = usage_table(), usage_table()
    second["time"] += pd.Timedelta(hours=3)
    second["pid"] = second["pid"].where(second["kind"] != "job", second["pid"] + 100)
    (tmp_path / "history").mkdir()
    write_usage(second, tmp_path / "history" / "usage-20261126T130000Z.csv")
    write_usage(first, tmp_path / "history" / "usage-20261126T100000Z.csv")
    write_usage(second, tmp_path / "usage.csv")
    usage = plots.read_usage_history(tmp_path / "usage.csv")
    assert usage["time"].min() == T0 and usage["time"].max() == T0 + pd.Timedelta(hours=3, seconds=58)
    system = usage[usage["kind"] == "system"]
    assert len(system) == 2 * 30 + 1 and system["load1"].isna().sum() == 1  # the break
    assert system["time"].is_monotonic_increasing
    assert len(plots.job_spans(usage)) == 4  # each invocation's two jobs
    figure = plots.plot_overview(usage)
    assert np.isnan(figure.axes[0].lines[0].get_ydata()).sum() == 1  # the load line is broken
    plt.close(figure)
    # a run monitored before the history was kept: its usage table alone
    (tmp_path / "older").mkdir()
    write_usage(first, tmp_path / "older" / "usage.csv")
    assert len(plots.read_usage_history(tmp_path / "older" / "usage.csv")) == len(first)


def test_overview_without_data_says_so():
    figure = plots.plot_overview(pd.DataFrame(columns=USAGE_COLUMNS))
    assert any("no monitor data" in text for text in texts(figure))
    plt.close(figure)


def test_overview_with_many_jobs_sums_them_per_rule():
    rows = [
        {
            "time": T0 + pd.Timedelta(seconds=s),
            "kind": "system",
            "load1": 1.0,
            "mem_available_mib": 1000.0,
            "swap_used_mib": 50.0,
        }
        for s in range(3)
    ]
    rows += [
        {
            "time": T0 + pd.Timedelta(seconds=s),
            "kind": "job",
            "job": f"fetch[shard={j}]",
            "rule": "fetch",
            "wildcards": f"shard={j}",
            "pid": 100 + j,
            "n_pids": 1,
            "cpu_percent": 50.0,
            "rss_mib": 4096.0 + j,
        }
        for j in range(25)
        for s in (1, 2)
    ]
    figure = plots.plot_overview(
        pd.DataFrame(rows).reindex(columns=USAGE_COLUMNS).fillna({"job": "", "rule": "", "wildcards": ""})
    )
    legend = figure.axes[1].get_legend()
    assert legend.get_title().get_text() == "Jobs per rule and archive (sum)"
    assert [t.get_text() for t in legend.get_texts()] == ["fetch"]
    cpu_top = max(path.vertices[:, 1].max() for path in figure.axes[1].collections[0].get_paths())
    assert cpu_top == 25 * 50.0  # the stack is the sum of the 25 jobs
    names = [text for text in texts(figure) if text.startswith("fetch ")]
    assert len(names) == plots.figure.N_NAMED_JOBS  # the longest ones (all 1 s here), not all 25
    assert "1  fetch 24: 4.0 GiB" in " ".join(texts(figure))  # the largest RSS, listed
    assert figure.axes[3].get_ylabel() == "RSS per job\n(GiB)"
    assert [line.get_label() for line in figure.axes[2].lines] == ["available", "swap used"]
    plt.close(figure)


ARCHIVES = ("ztf", "gaia", "panstarrs", "wise", "heasarc")


def run_of_300_jobs() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The monitor's table (10 s samples) and the benchmark table of a run of 300 fetch jobs
    (60 shards x 5 archives, 4 at a time); ``ztf/0042`` is the longest, ``wise/0007`` the largest."""
    usage, bench, slots, pid = [], [], [0, 0, 0, 0], 1000
    for shard in range(60):
        for index, archive in enumerate(ARCHIVES):
            wildcards = f"archive={archive},shard={shard:04d}"
            samples = 40 if (archive, shard) == ("ztf", 42) else 3 + (shard * 7 + index * 3) % 11
            rss = 3000.0 if (archive, shard) == ("wise", 7) else 500.0 + 10 * index + shard
            slot = slots.index(min(slots))
            start, slots[slot], pid = slots[slot], slots[slot] + samples + 1, pid + 1
            for i in range(start, start + samples):
                usage.append(
                    {
                        "time": T0 + pd.Timedelta(seconds=10 * i),
                        "kind": "job",
                        "job": f"fetch_lightcurves[{wildcards}]",
                        "rule": "fetch_lightcurves",
                        "wildcards": wildcards,
                        "pid": pid,
                        "n_pids": 2,
                        "cpu_percent": 80.0,
                        "rss_mib": rss,
                    }
                )
            bench.append(
                {
                    "rule": "fetch_lightcurves",
                    "wildcards": wildcards,
                    "job": f"fetch_lightcurves[{wildcards}]",
                    "iteration": 0,
                    "wall_s": 10.0 * samples,
                    "max_rss_mib": rss,
                    "cpu_time_s": 8.0 * samples,
                }
            )
    for i in range(max(slots)):
        usage.append(
            {
                "time": T0 + pd.Timedelta(seconds=10 * i),
                "kind": "system",
                "load1": 4.0,
                "mem_available_mib": 10000.0,
                "swap_used_mib": 0.0,
            }
        )
    usage = (
        pd.DataFrame(usage).reindex(columns=USAGE_COLUMNS).fillna({"job": "", "rule": "", "wildcards": ""})
    )
    return usage, pd.DataFrame(bench)


def test_overview_of_300_jobs_has_one_entry_per_archive_and_names_the_longest():
    usage, _ = run_of_300_jobs()
    assert usage.loc[usage["kind"] == "job", "job"].nunique() == 300
    figure = plots.plot_overview(usage)
    legend = [t.get_text() for t in figure.axes[1].get_legend().get_texts()]
    assert sorted(legend) == sorted(f"fetch_lightcurves {archive}" for archive in ARCHIVES)  # not 300
    labels = texts(figure)
    assert len(labels) <= 2 * plots.figure.N_NAMED_JOBS + 1  # bounded, whatever the number of jobs
    assert "fetch_lightcurves ztf/0042 (390 s)" in labels  # the longest job (40 samples, 10 s apart)
    rss_list = next(text for text in labels if text.startswith("Largest RSS"))
    assert rss_list.splitlines()[1] == "1  fetch_lightcurves wise/0007: 2.9 GiB"  # the stack's unit
    plt.close(figure)


def test_benchmark_figure_of_300_jobs_has_one_line_per_archive_and_names_the_slowest():
    _, bench = run_of_300_jobs()
    figure = plots.plot_benchmarks(bench)
    rows = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert rows == [f"fetch_lightcurves {archive} (60 jobs)" for archive in ARCHIVES]
    assert len(figure.axes[3].get_yticklabels()) == len(ARCHIVES)  # per job: one line per group too
    wall_list = next(t.get_text() for t in figure.axes[3].texts if "\n" in t.get_text())
    assert wall_list.splitlines()[0] == "1  fetch_lightcurves ztf/0042: 400 s"
    rss_list = next(t.get_text() for t in figure.axes[4].texts if "\n" in t.get_text())
    assert rss_list.splitlines()[0] == "1  fetch_lightcurves wise/0007: 3,000 MiB"
    assert len(texts(figure)) <= 3 * (plots.figure.N_NAMED_JOBS + 1) + 1  # numbers, list; the title
    plt.close(figure)


def benchmark_table(tmp_path) -> pd.DataFrame:
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    paths, jobs = [], []
    for i, (rule, wildcards, wall) in enumerate(
        [
            ("sample", {}, 3.0),
            ("fetch", {"shard": "0000"}, 11.3),
            ("fetch", {"shard": "0001"}, 9.0),
            ("merge", {}, 0.4),
        ]
    ):
        path = tmp_path / f"b{i}.tsv"
        values = f"{wall}\t0:00:{int(wall):02d}\t500.5\t2000\t450\t460\t4.6\t0.2\t85.9\t{wall * 0.9}"
        path.write_text(
            header + (values if wall > 1 else "0.4\t0:00:00\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA") + "\n"
        )
        paths.append(str(path))
        jobs.append({"rule": rule, "wildcards": wildcards})
    return gather_benchmarks(paths, jobs)


def test_benchmark_table_and_bars(tmp_path):
    table = benchmark_table(tmp_path)
    assert table["job"].tolist() == ["sample", "fetch[shard=0000]", "fetch[shard=0001]", "merge"]
    assert np.isnan(table.loc[3, "max_rss_mib"])  # "NA": shorter than Snakemake's first sample
    figure = plots.plot_benchmarks(table, title="demo", note="synthetic")
    xlabels = [ax.get_xlabel() for ax in figure.axes]
    assert xlabels == [
        "Total wall time (s)",
        "Largest max RSS (MiB)",
        "Total CPU time (s)",
        "Wall time (s)",
        "Max RSS (MiB)",
        "CPU time (s)",
    ]
    rules = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert "fetch (2 jobs)" in rules and "sample (1 job)" in rules
    plt.close(figure)
    path = tmp_path / "benchmarks.csv"
    table.to_csv(path, index=False)
    plots.benchmarks_figure_file(str(path), str(tmp_path / "bench.png"))
    assert (tmp_path / "bench.png").read_bytes()[:4] == PNG_MAGIC


def test_coverage_bars(tmp_path):
    summary = pd.DataFrame(
        {
            "archive": ["ztf", "ztf", "heasarc"],
            "band": ["ztf_g", "ztf_r", "FERMIGTRIG"],
            "objects": [48, 50, 2],
            "rows": [6000, 8000, 3],
            "unit": ["mJy", "mJy", "none"],
            "time_system": ["", "", ""],
        }
    )
    figure = plots.plot_coverage(summary, 52, title="demo")
    assert figure.axes[0].get_xlabel() == "Objects with data (% of 52 in the sample)"
    assert figure.axes[1].get_xlabel() == "Rows (photometric epochs or events)"
    assert figure.axes[1].get_xscale() == "log"  # 3 to 8000 rows
    assert {t.get_text() for t in figure.axes[0].get_yticklabels()} == {
        "ztf: ztf_g",
        "ztf: ztf_r",
        "heasarc: FERMIGTRIG",
    }
    plt.close(figure)
    shard = tmp_path / "shard-0000.parquet"
    pq.write_table(pa.table({"objectid": list(range(1, 53)), "ra": [0.0] * 52, "dec": [0.0] * 52}), shard)
    summary.to_csv(tmp_path / "summary.csv", index=False)
    plots.coverage_figure_file(str(tmp_path / "summary.csv"), [str(shard)], str(tmp_path / "coverage.png"))
    assert (tmp_path / "coverage.png").read_bytes()[:4] == PNG_MAGIC


def test_sky_map(tmp_path):
    paths = []
    for shard, ra in enumerate(([10.0, 20.0], [200.0, 350.0])):
        paths.append(str(tmp_path / f"shard-{shard:04d}.parquet"))
        pq.write_table(
            pa.table({"objectid": [1, 2], "ra": ra, "dec": [-30.0, 45.0], "label": ["a", "b"]}), paths[-1]
        )
    sample = plots.read_sample_shards(paths)
    assert sample["shard"].tolist() == [0, 0, 1, 1]
    figure = plots.plot_sky(sample, title="demo")
    ax = figure.axes[0]
    assert ax.name == "mollweide"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("RA (deg, ICRS)", "Dec (deg, ICRS)")
    x = ax.collections[0].get_offsets()[:, 0]
    assert x[0] < 0 < x[2]  # RA 10 deg east (left, negative x), RA 200 deg right of centre
    assert figure.axes[1].get_xlabel() == "Shard"  # colour bar
    plt.close(figure)
    plots.sky_figure_file(paths, str(tmp_path / "sky.png"))
    assert (tmp_path / "sky.png").read_bytes()[:4] == PNG_MAGIC


def lightcurve() -> tuple[pd.DataFrame, dict[str, str]]:
    rng = np.random.default_rng(1)
    parts = []
    for band, n, flux in (("ztf_g", 40, 0.2), ("ztf_r", 30, 0.3), ("Gaia_G", 12, 0.25), ("TESS", 20, 500.0)):
        time = np.sort(rng.uniform(58000, 60000, n))
        parts.append(
            pd.DataFrame(
                {"band": band, "time": time, "flux": flux + rng.normal(0, 0.01, n), "err": np.full(n, 0.01)}
            )
        )
    parts.append(pd.DataFrame({"band": "IceCube", "time": [58500.0], "flux": [3.2], "err": [0.0]}))
    parts.append(pd.DataFrame({"band": "FERMIGTRIG", "time": [59100.0], "flux": [0.1], "err": [0.1]}))
    units = {
        "ztf_g": "mJy",
        "ztf_r": "mJy",
        "Gaia_G": "mJy",
        "TESS": "electron / s",
        "IceCube": "log10(E / GeV) (err = 0)",
        "FERMIGTRIG": "none: event marker (flux = err = 0.1)",
    }
    return pd.concat(parts, ignore_index=True), units


def test_lightcurve_panels_follow_create_figures():
    frame, units = lightcurve()
    figure = plots.plot_lightcurve(frame, units, objectid=7, label="Yang 18", note="synthetic")
    top, zoom = figure.axes
    for ax in (top, zoom):
        assert (ax.get_ylabel(), ax.get_xlabel()) == ("Flux (mJy)", "Time (MJD)")
    legend = top.get_legend()
    assert legend.get_title().get_text() == "objectid: 7 (Yang 18)"
    labels = [t.get_text() for t in legend.get_texts()]
    assert {"ZTF g", "ZTF r", "Gaia_G", "FERMIGTRIG", "IceCube (upper limits)"} <= set(labels)
    tess = next(label for label in labels if label.startswith("TESS (rescaled"))
    assert float(tess.split("×")[1].rstrip(")")) == pytest.approx(
        0.27 / 500, rel=0.2
    )  # to the mJy bands' max
    low, high = zoom.get_xlim()
    ztf_times = frame.loc[frame["band"].str.startswith("ztf_"), "time"]
    assert low == pytest.approx(ztf_times.min() - 100) and high == pytest.approx(ztf_times.max() + 100)
    assert [line.get_label() for line in zoom.lines if not line.get_label().startswith("_")] == [
        "ZTF g 30-d mean",
        "ZTF r 30-d mean",
    ]
    plt.close(figure)


def test_lightcurve_without_ztf_or_data():
    frame, units = lightcurve()
    figure = plots.plot_lightcurve(frame[frame["band"] == "Gaia_G"], units, objectid=3)
    assert any("no ZTF data" in text for text in texts(figure))
    plt.close(figure)
    figure = plots.plot_lightcurve(frame.iloc[0:0], units, objectid=4)
    assert any("no data" in text for text in texts(figure))
    plt.close(figure)


def test_band_kinds_cleaning_and_running_mean():
    assert plots.band_kind("ztf_g", "mJy") == "flux"
    assert plots.band_kind("TESS", "electron / s") == "electron"
    assert plots.band_kind("IceCube", "log10(E / GeV) (err = 0)") == "upper_limit"
    assert plots.band_kind("SAXGRBMGRB", "none: event marker (flux = err = 0.1)") == "event"
    points = pd.DataFrame({"time": np.arange(20.0), "flux": [1.0] * 19 + [100.0], "err": [0.1] * 20})
    assert len(plots.clean_band(points)) == 19  # the 100 is > 3 sigma out
    assert len(plots.clean_band(points.head(9).assign(flux=[1.0] * 8 + [100.0]))) == 9  # < 10 points: kept
    centres, means = plots.running_mean(
        np.array([0.0, 1.0, 100.0]), np.array([1.0, 3.0, 5.0]), np.array([1.0, 0.5, 1.0])
    )
    assert centres[0] == 0.0 and means[0] == pytest.approx((1 * 1 + 3 * 4) / 5)  # 1/err^2 weights
    assert means[-1] == pytest.approx(5.0)


def test_first_objects_with_data(tmp_path):
    path = tmp_path / "by_object.parquet"
    pq.write_table(pa.table({"objectid": [3, 1, 2, 4, 5], "n_points": [5, 0, 7, 1, 9]}), path)
    assert plots.first_objects_with_data(str(path), 3) == [2, 3, 4]


def long_usage(hours: float = 10.0, interval_s: float = 2.0, seed: int = 0) -> pd.DataFrame:
    """``hours`` of samples: job a then job b in one slot (b starts at 40 % of the run), job c
    throughout, random CPU and RSS, a tag at mid-run."""
    rng = np.random.default_rng(seed)
    times = T0 + pd.to_timedelta(np.arange(0, hours * 3600, interval_s), unit="s")
    n = len(times)
    switch = int(0.4 * n)
    frames = [
        pd.DataFrame(
            {
                "time": times,
                "kind": "system",
                "n_pids": 4,
                "cpu_percent": rng.uniform(0, 200, n),
                "load1": rng.uniform(0, 2, n),
                "mem_used_mib": rng.uniform(1000, 3000, n),
                "mem_available_mib": rng.uniform(10000, 20000, n),
                "swap_used_mib": 0.0,
            }
        ),
        pd.DataFrame(
            {"time": times, "kind": "snakemake", "job": "snakemake", "rule": "snakemake", "pid": 1}
        ).assign(n_pids=1, cpu_percent=rng.uniform(0, 5, n), rss_mib=rng.uniform(150, 250, n)),
    ]
    for name, pid, rows in (("a", 10, slice(0, switch)), ("b", 11, slice(switch, n)), ("c", 12, slice(0, n))):
        part = times[rows]
        frames.append(
            pd.DataFrame(
                {
                    "time": part,
                    "kind": "job",
                    "job": f"fetch[archive={name}]",
                    "rule": "fetch",
                    "wildcards": f"archive={name}",
                    "pid": pid,
                    "n_pids": 2,
                    "cpu_percent": rng.uniform(0, 100, len(part)),
                    "rss_mib": rng.uniform(100, 900, len(part)),
                }
            )
        )
    tag = pd.DataFrame([{"time": times[n // 2], "kind": "tag", "job": "merge started"}])
    return pd.concat([*frames, tag], ignore_index=True).sort_values("time", kind="stable", ignore_index=True)


def binned_history(tmp_path, *parts: pd.DataFrame, cut: str = "") -> Path:
    """History copies of ``parts`` (one invocation each, an hour apart in their names); ``cut``
    is appended to the last one, as a row cut short by a kill."""
    history = tmp_path / "history"
    history.mkdir(exist_ok=True)
    for index, part in enumerate(parts):  # in the monitor's column order
        write_usage(
            part.reindex(columns=USAGE_COLUMNS), history / f"usage-20261126T{10 + index:02d}0000Z.csv"
        )
    with open(history / f"usage-20261126T{10 + len(parts) - 1:02d}0000Z.csv", "a") as table:
        table.write(cut)
    return tmp_path / "usage.csv"


def brute_force_bins(raw: pd.DataFrame, per_point: int) -> pd.DataFrame:
    """``raw`` with each row's bin: its sample's index (one system row a sample) // per_point."""
    sample_times = np.sort(raw.loc[raw["kind"] == "system", "time"].unique())
    index = np.searchsorted(sample_times, raw["time"].to_numpy(), "right") - 1
    return raw.assign(bin=index // per_point)


@pytest.mark.parametrize(
    "cut",
    [
        "2026-11-26T20:00:00.0",  # inside the time
        "2026-11-26T20:00:00.000+00:00,system,,,,,4,150.0,,1.0,3000.0,2",  # inside a value
        "2026-11-26T20:00:00.000+00:00,job,fetch[archive=z",  # inside a job's name
    ],
)
def test_a_long_record_is_read_into_bins_whose_sums_are_the_true_averages(tmp_path, monkeypatch, cut):
    """Binned, each point's stacked job CPU and RSS are the averages over its samples (jobs that
    follow each other are not summed at their peaks), each job keeps its peak; the same bins
    whatever the chunks; a last row cut short by a kill, wherever it is cut, is passed over."""
    raw = long_usage(hours=10.0)  # 18,000 samples
    usage_csv = binned_history(tmp_path, raw, cut="\n" + cut if cut else "")
    monkeypatch.setattr(plots.resources, "READ_CHUNK_ROWS", 7_001)  # bins split across chunks
    usage = plots.read_usage_history(usage_csv, max_samples=1_000, max_points=100)
    assert usage.attrs["samples_per_point"] == 180 and usage.attrs["point_s"] == pytest.approx(360)
    raw = brute_force_bins(raw, 180)
    edges = raw[raw["kind"] == "system"].groupby("bin")["time"].min()
    assert usage.loc[usage["kind"] == "system", "time"].tolist() == edges.tolist()  # 100 points
    bin_of = pd.Series(edges.index, index=edges.to_numpy())

    samples = raw[raw["kind"] == "system"].groupby("bin").size()
    jobs = raw[raw["kind"] == "job"]
    got = usage[usage["kind"] == "job"].assign(bin=lambda f: bin_of.loc[f["time"]].to_numpy())
    for column in ("cpu_percent", "rss_mib"):
        want = jobs.groupby(["bin", "job"])[column].sum() / samples.reindex(jobs["bin"].unique())
        np.testing.assert_allclose(got.set_index(["bin", "job"])[column].sort_index(), want.sort_index())
    peaks = got.groupby("job")["rss_peak_mib"].max()
    pd.testing.assert_series_equal(peaks, jobs.groupby("job")["rss_mib"].max().rename("rss_peak_mib"))
    system = usage[usage["kind"] == "system"].set_index(bin_of.loc[edges].to_numpy())
    raw_system = raw[raw["kind"] == "system"].groupby("bin")
    np.testing.assert_allclose(system["mem_available_mib"], raw_system["mem_available_mib"].min())
    np.testing.assert_allclose(system["mem_used_mib"], raw_system["mem_used_mib"].max())
    np.testing.assert_allclose(system["load1"], raw_system["load1"].mean())
    np.testing.assert_allclose(system["cpu_percent"], raw_system["cpu_percent"].mean())
    assert usage.loc[usage["kind"] == "tag", "job"].tolist() == ["merge started"]
    assert set(usage["job"]) == {"", "snakemake", "merge started", *jobs["job"]}  # not the cut row

    monkeypatch.setattr(plots.resources, "READ_CHUNK_ROWS", 10**7)  # one chunk: the same bins
    whole = plots.read_usage_history(usage_csv, max_samples=1_000, max_points=100)
    key = ["time", "kind", "job", "pid"]
    pd.testing.assert_frame_equal(
        whole.sort_values(key, ignore_index=True), usage.sort_values(key, ignore_index=True)
    )


def test_a_point_never_mixes_two_invocations(tmp_path):
    """Killed, then restarted 20 s later (less than a point) and again 3 h later: one job at
    100 % CPU in every invocation never stacks to 200 %, and the lines break at each restart,
    never drawn straight across the 3 h."""
    first = long_usage(hours=5.0).query("kind != 'tag'")
    second = long_usage(hours=5.0, seed=1).query("kind != 'tag'")
    third = long_usage(hours=5.0, seed=2).query("kind != 'tag'")
    second = second.assign(time=second["time"] + pd.Timedelta(hours=5, seconds=20))
    third = third.assign(time=third["time"] + pd.Timedelta(hours=13))
    parts = [
        part.assign(cpu_percent=part["cpu_percent"].where(part["kind"] != "job", 100.0))
        for part in (first, second, third)
    ]
    parts = [part[(part["kind"] != "job") | (part["job"] == "fetch[archive=c]")] for part in parts]
    usage = plots.read_usage_history(binned_history(tmp_path, *parts), max_samples=1_000, max_points=100)
    jobs = usage[usage["kind"] == "job"]
    assert jobs.groupby("time")["cpu_percent"].sum().max() == pytest.approx(100.0)
    system = usage[usage["kind"] == "system"]
    assert system["time"].is_monotonic_increasing and system["time"].is_unique
    assert system["load1"].isna().sum() == 2  # a break at each restart: no point mixes two invocations


def test_a_window_is_taken_before_binning_and_short_invocations_days_apart_are_not_binned(tmp_path):
    raw = long_usage(hours=10.0)
    usage_csv = binned_history(tmp_path, raw)
    window = ("2026-11-26T12:00:00", "2026-11-26T12:59:59")  # 1,800 samples of the 18,000
    usage = plots.read_usage_history(usage_csv, window=window, max_samples=1_000, max_points=100)
    assert usage.attrs["samples_per_point"] == 18
    system = usage[usage["kind"] == "system"]
    assert len(system) == 100 and system["time"].min() == pd.Timestamp("2026-11-26T12:00:00Z")
    assert system["time"].max() < pd.Timestamp("2026-11-26T13:00:00Z")
    hour = plots.read_usage_history(usage_csv, window=window, max_samples=2_000)  # the hour, sample by sample
    assert "samples_per_point" not in hour.attrs and (hour["kind"] == "system").sum() == 1_800

    short = long_usage(hours=0.1)  # 180 samples, then as many 3 days later
    later = short.assign(time=short["time"] + pd.Timedelta(days=3))
    (tmp_path / "apart").mkdir()
    usage = plots.read_usage_history(binned_history(tmp_path / "apart", short, later), max_samples=1_000)
    assert "samples_per_point" not in usage.attrs
    assert (usage["kind"] == "system").sum() == 2 * 180 + 1  # every sample, and the break


def test_a_tag_at_the_end_of_a_binned_record_does_not_end_the_jobs_still_running(tmp_path):
    raw = long_usage(hours=10.0)
    tag = pd.DataFrame([{"time": raw["time"].max(), "kind": "tag", "job": "report"}])
    usage = plots.read_usage_history(binned_history(tmp_path, pd.concat([raw, tag])), max_samples=1_000)
    spans = plots.job_spans(usage).set_index("job")
    assert spans.loc["fetch[archive=c]", ["started", "ended"]].tolist() == [False, False]
    assert spans.loc["fetch[archive=a]", "ended"]


def test_a_short_run_is_drawn_sample_by_sample_and_a_long_one_says_how_it_was_binned(tmp_path, monkeypatch):
    usage_csv = binned_history(tmp_path, long_usage(hours=1.0))
    usage = plots.read_usage_history(usage_csv)
    assert "samples_per_point" not in usage.attrs and len(usage) == len(long_usage(hours=1.0))
    write_usage(long_usage(hours=12.0), tmp_path / "history" / "usage-20261126T100000Z.csv")
    output = tmp_path / "resources.png"
    shown = []
    original = plots.resources.plot_overview
    monkeypatch.setattr(
        plots.resources,
        "plot_overview",
        lambda usage, **kw: shown.append(kw["note"]) or original(usage, **kw),
    )
    plots.overview_figure_file(str(usage_csv), str(output), note="SYNTHETIC")
    assert output.read_bytes()[:4] == PNG_MAGIC
    assert shown == [
        "SYNTHETIC Each point combines 8 samples (~16 s): CPU, RSS and load averaged over them, memory in "
        "use at its peak, available memory at its lowest; each job's peak RSS is kept (thin lines, or the "
        "largest-RSS list)."
    ]
