"""A faithful re-implementation of the original's in-memory ZTF path, to measure it.

Run as a script (``python benchmarks/_baseline.py SAMPLE_PARQUET HATS OUT_PARQUET``) so its peak
RSS is its own. The steps are the Fornax code's (``ztf_functions.py``; spec section 3.4 and 7):

1. per band, crossmatch the whole sample with the band's rows (``n_neighbors=1``, 1 arcsec,
   right margin required) and ``compute()`` the whole result into the driver;
2. one pandas frame for the three bands, one row per light curve, the epoch columns as object
   columns of numpy arrays (what ``pd.read_parquet`` of list columns gives);
3. ``explode`` to one row per epoch, ``astype`` to float/int, keep ``catflags < 32768``;
4. flux and error in mJy with astropy (``u.ABmag`` -> ``u.mJy``; error ``(F(m-e) - F(m+e))/2``);
5. the 4-level MultiIndex (objectid, label, band, time), ``sort_index``, ``to_parquet``.

The original's de-duplication loop (several ZTF objects per object and band) is left out: with
``n_neighbors=1`` per band there is nothing to de-duplicate, and its Python loop over groups
would only make the baseline slower.
"""

from __future__ import annotations

import sys

import astropy.units as u
import lsdb
import pandas as pd

BANDS = {"ztf_g": 1, "ztf_r": 2, "ztf_i": 3}
COLUMNS = [
    "objectid",
    "objra",
    "objdec",
    "filterid",
    "lightcurve.hmjd",
    "lightcurve.mag",
    "lightcurve.magerr",
    "lightcurve.catflags",
]
EPOCH_COLUMNS = ["hmjd", "mag", "magerr", "catflags"]


def matched_lightcurves(sample: pd.DataFrame, hats: str) -> pd.DataFrame:
    """One row per matched (object, band): objectid, label, band and the epoch arrays."""
    objects = lsdb.from_dataframe(sample, ra_column="ra", dec_column="dec", margin_threshold=None)
    frames = []
    for band, filterid in BANDS.items():
        ztf = lsdb.open_catalog(hats, columns=COLUMNS, filters=[("filterid", "==", filterid)])
        matched = objects.crossmatch(
            ztf,
            radius_arcsec=1.0,
            n_neighbors=1,
            require_right_margin=True,
            suffixes=("", "_ztf"),
            suffix_method="overlapping_columns",
        ).compute()
        lists = matched["lightcurve"].nest.to_lists()
        frame = pd.DataFrame(
            {"objectid": matched["objectid"].to_numpy(), "label": matched["label"].to_numpy(), "band": band},
            index=matched.index,
        )
        for column in EPOCH_COLUMNS:
            frame[column] = lists[column].array._pa_array.to_pandas().to_numpy()  # numpy arrays
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def transform(ztf_df: pd.DataFrame) -> pd.DataFrame:
    """The original's transform: explode, catflags cut, mJy, MultiIndex."""
    ztf_df = ztf_df.rename(columns={"hmjd": "time"})
    ztf_df = ztf_df.explode(["time", "mag", "magerr", "catflags"], ignore_index=True)
    ztf_df = ztf_df.astype({"time": "float", "mag": "float", "magerr": "float", "catflags": "int"})
    ztf_df = ztf_df.loc[ztf_df["catflags"] < 32768, :]
    mag, magerr = ztf_df["mag"].to_numpy(), ztf_df["magerr"].to_numpy()
    flux = (mag * u.ABmag).to_value(u.mJy)
    err = (((mag - magerr) * u.ABmag).to_value(u.mJy) - ((mag + magerr) * u.ABmag).to_value(u.mJy)) / 2
    ztf_df.loc[:, "flux"] = flux
    ztf_df.loc[:, "err"] = err
    indexes, columns = ["objectid", "label", "band", "time"], ["flux", "err"]
    return ztf_df.set_index(indexes)[columns].sort_index()


def main(sample_parquet: str, hats: str, out_parquet: str) -> None:
    sample = pd.read_parquet(sample_parquet, columns=["objectid", "ra", "dec", "label"])
    transform(matched_lightcurves(sample, hats)).to_parquet(out_parquet)


if __name__ == "__main__":
    main(*sys.argv[1:])
