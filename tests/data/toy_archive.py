"""A toy archive kept outside mwlc: descriptor, reader and demo builder in this one module.

``tests/test_toy_archive.py`` puts this folder on ``PYTHONPATH`` and names the module in
``MWLC_EXTRA_ARCHIVES`` (the registry line), and nothing else: the config schema, the
workflow's jobs and the merged dataset then take the archive in.

The source is a directory holding ``epochs.csv`` (``ra``, ``dec`` in deg; ``time`` MJD;
``flux``, ``err`` mJy); every epoch within ``radius_arcsec`` of a sample object is its row.

The registry imports this module while loading, possibly on behalf of an mwlc module that is
itself still loading (``mwlc.schema`` lists every archive's bands): only the descriptor's own
imports are at the top, the reader's are inside its functions (as mwlc's own archives keep their
descriptors in light modules of their own).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mwlc.archives.base import Archive, BandInfo, Param

if TYPE_CHECKING:
    from mwlc.archives._preflight import Finding

EPOCHS = "epochs.csv"

ARCHIVE = Archive(
    name="toy",
    title="A toy archive: epochs in one CSV file",
    reader=__name__,
    default_source="resources/toy",
    source_help=f"directory holding {EPOCHS}",
    bands={"toy_v": BandInfo("mJy", "MJD (toy)")},
    params=(
        Param(
            "radius_arcsec",
            "number",
            "match radius in arcsec",
            default=1.0,
            unit="arcsec",
            exclusive_minimum=0,
            maximum=60,
        ),
    ),
    service="irsa_s3",  # a local copy (the demo's) holds none of it
    demo_builder=__name__,
)


def fetch(
    sample: pd.DataFrame,
    *,
    source: str,
    radius_arcsec: float = 1.0,
    threads: int = 1,
    mem_mb: int | None = None,
    storage_options: dict | None = None,
) -> Iterator[pa.RecordBatch]:
    """Every epoch within ``radius_arcsec`` of each sample object, band ``toy_v``."""
    from mwlc.archives import require_sample_columns
    from mwlc.schema import to_record_batch
    from mwlc.sky import separation_deg

    require_sample_columns(sample, "toy")
    epochs = pd.read_csv(Path(source) / EPOCHS)
    for row in sample.itertuples(index=False):
        near = separation_deg(row.ra, row.dec, epochs["ra"], epochs["dec"]) * 3600 <= radius_arcsec
        if near.any():
            rows = epochs.loc[near, ["time", "flux", "err"]]
            yield to_record_batch(rows.assign(objectid=row.objectid, label=row.label, band="toy_v"))


def preflight(
    source: str, params: Mapping[str, Any], *, storage_options: dict | None = None
) -> list[Finding]:
    """The epochs file is there: no finding, else one."""
    from mwlc.archives._preflight import Finding  # noqa: F811 (the type above is for checkers only)

    if (Path(source) / EPOCHS).is_file():
        return []
    return [Finding(ARCHIVE.name, source, f"a directory holding {EPOCHS}", "none")]


def build(sample: pd.DataFrame, out_dir: str | Path) -> Path:
    """Three epochs at each sample position (deterministic values)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = len(sample)
    epochs = pd.DataFrame(
        {
            "ra": np.repeat(sample["ra"].to_numpy(), 3),
            "dec": np.repeat(sample["dec"].to_numpy(), 3),
            "time": 60000.0 + np.tile([0.0, 1.0, 2.0], n),
            "flux": np.repeat(sample["objectid"].to_numpy(), 3) * 0.1,
            "err": 0.01,
        }
    )
    epochs.to_csv(out / EPOCHS, index=False)
    return out
