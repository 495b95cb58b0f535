"""The ZTF fetch as lsdb computes it: the reference the partition reader must equal.

This is mwlc's ZTF path before the partition reader (and the Fornax code's recipe): per band,
``lsdb.open_catalog`` with the band's rows, ``crossmatch(n_neighbors=1,
require_right_margin=True)`` of the sample against it, computed whole, and the epochs flattened
and converted with the same functions the archive uses. Used by the tests and by
``benchmarks/partition_scale.py`` (its whole-partition baseline).
"""

from __future__ import annotations

import lsdb
import numpy as np
import pandas as pd
import pyarrow as pa

from mwlc.photometry import ab_mag_err_to_mjy, ab_mag_to_mjy
from mwlc.schema import LIGHTCURVE_SCHEMA, to_record_batch

FILTERIDS = {"ztf_g": 1, "ztf_r": 2, "ztf_i": 3}
COLUMNS = ["objectid", "objra", "objdec", "filterid"]
COLUMNS += ["lightcurve.hmjd", "lightcurve.mag", "lightcurve.magerr", "lightcurve.catflags"]


def ztf_rows(
    sample: pd.DataFrame,
    source: str,
    *,
    radius_arcsec: float = 1.0,
    bands=tuple(FILTERIDS),
    catflags_max: int = 32768,
    storage_options: dict | None = None,
) -> pa.Table:
    """The ZTF light-curve rows of ``sample`` (objectid, ra, dec, label) as lsdb matches them."""
    objects = lsdb.from_dataframe(
        sample[["objectid", "ra", "dec", "label"]], ra_column="ra", dec_column="dec", margin_threshold=None
    )
    frames = []
    for band in bands:
        catalog = lsdb.open_catalog(
            source,
            columns=COLUMNS,
            filters=[("filterid", "==", FILTERIDS[band])],
            storage_options=storage_options,
        )
        matched = objects.crossmatch(
            catalog,
            radius_arcsec=radius_arcsec,
            n_neighbors=1,
            require_right_margin=True,
            suffixes=("", "_ztf"),
            suffix_method="overlapping_columns",
            log_changes=False,
        ).compute()
        matched = matched.reset_index(drop=True)  # one index value per matched sample object
        epochs = matched["lightcurve"].nest.to_flat()
        owner = matched.loc[epochs.index]
        keep = epochs["catflags"].to_numpy(dtype=np.float64, na_value=catflags_max) < catflags_max
        mag = epochs["mag"].to_numpy(dtype=np.float64, na_value=np.nan)[keep]
        magerr = epochs["magerr"].to_numpy(dtype=np.float64, na_value=np.nan)[keep]
        frames.append(
            pd.DataFrame(
                {
                    "objectid": owner["objectid"].to_numpy(np.int64)[keep],
                    "label": owner["label"].astype(str).to_numpy()[keep],
                    "band": band,
                    "time": epochs["hmjd"].to_numpy(dtype=np.float64, na_value=np.nan)[keep],
                    "flux": ab_mag_to_mjy(mag),
                    "err": ab_mag_err_to_mjy(mag, magerr),
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    return pa.Table.from_batches([to_record_batch(frame)], schema=LIGHTCURVE_SCHEMA)


def sorted_rows(table: pa.Table) -> pd.DataFrame:
    """A light-curve table as a plain frame sorted by (objectid, band, time)."""
    frame = table.replace_schema_metadata(None).to_pandas().astype({"label": str, "band": str})
    return frame.sort_values(["objectid", "band", "time"], ignore_index=True)
