"""Fixtures of the TESS/Kepler/K2 archive: real light-curve FITS files written by lightkurve, a
product index / search-result table for them, and a loopback MAST download endpoint.

Objects (``tk_case.sample``):

* objectid 1: a TESS SPOC product at 0.2" and a Kepler product at 0.3";
* objectid 2: a K2 product at 0.4" and a TESS product at 5" (outside the default 1");
* objectid 3: nothing;
* objectid 4: a product lightkurve cannot read (FITS, but no light curve) at 0.1" and a TESS
  product at 0.2".

Every file holds :data:`N_CADENCES` cadences with known raw times (BTJD for TESS, BKJD for
Kepler/K2), some NaN fluxes and, for TESS, some negative fluxes.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.time import Time

from tests.servers.base import LoopbackServer, Request, Response

N_CADENCES = 200
DOWNLOAD_PATH = "/api/v0.1/Download/file"


def _lk():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lightkurve
    return lightkurve


@dataclass(frozen=True)
class Product:
    """One product: what the index lists and what its file holds."""

    objectid: int
    mission: str  # search-result mission, e.g. "TESS Sector 14"
    author: str
    filename: str
    offset_arcsec: float
    raw_time: np.ndarray  # BTJD or BKJD
    flux: np.ndarray  # electron / s
    flux_err: np.ndarray
    readable: bool = True

    @property
    def collection(self) -> str:
        return self.mission.split()[0]

    @property
    def obs_id(self) -> str:
        return self.filename.removesuffix(".fits")

    @property
    def data_uri(self) -> str:
        return f"mast:{self.collection}/product/{self.filename}"


def _series(seed: int, band: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t0 = {"TESS": 1683.35, "Kepler": 441.20, "K2": 2306.60}[band]
    time = t0 + np.arange(N_CADENCES) * (2 / 1440 if band == "TESS" else 0.0204)
    flux = 1000.0 + 50 * np.sin(np.arange(N_CADENCES) / 7.0) + rng.normal(0, 5, N_CADENCES)
    flux[[3, 60, 90]] = np.nan
    if band == "TESS":
        flux[[0, 30, 150]] = -5.0  # non-detections the original drops
    err = rng.uniform(1, 3, N_CADENCES)
    return time, _as_stored(flux), _as_stored(err)


def _as_stored(values: np.ndarray) -> np.ndarray:
    """``values`` as the files keep them (float32)."""
    return values.astype(np.float32).astype(np.float64)


def write_product_fits(product: Product, path: Path) -> None:
    """Write ``product`` as a mission light-curve file lightkurve reads back, or, if not
    ``readable``, as a complete FITS file that is no product lightkurve knows (a table ``OTHER``)."""
    if not product.readable:
        from astropy.io import fits

        table = fits.BinTableHDU.from_columns(
            [fits.Column(name="X", format="D", array=np.arange(3.0))], name="OTHER"
        )
        fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
        return
    lk = _lk()
    band = product.collection
    cls, fmt = (lk.TessLightCurve, "btjd") if band == "TESS" else (lk.KeplerLightCurve, "bkjd")
    e_s = u.electron / u.s
    lc = cls(
        time=Time(product.raw_time, format=fmt, scale="tdb"),
        flux=product.flux * e_s,
        flux_err=product.flux_err * e_s,
    )
    lc.meta.update(
        MISSION=band,
        TARGETID=product.objectid,
        OBJECT=f"obj {product.objectid}",
        KEPLERID=product.objectid,
        RA=0.0,
        DEC=0.0,
        LABEL=f"obj {product.objectid}",
    )
    lc.meta.update(
        {
            "TESS": {"SECTOR": 14, "CAMERA": 1, "CCD": 2},
            "Kepler": {"QUARTER": 5, "CHANNEL": 12},
            "K2": {"CAMPAIGN": 5, "CHANNEL": 12},
        }[band]
    )
    for name in ("sap_flux", "sap_flux_err", "sap_bkg", "sap_bkg_err", "pdcsap_flux", "pdcsap_flux_err"):
        lc[name] = np.full(N_CADENCES, 10.0) * e_s
    lc["centroid_col"] = np.full(N_CADENCES, 500.0)
    lc["centroid_row"] = np.full(N_CADENCES, 600.0)
    lc["quality"] = np.zeros(N_CADENCES, dtype=np.int32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lc.to_fits(str(path), overwrite=True)
    _use_mission_units(path)


def _use_mission_units(path: Path) -> None:
    """Write flux units as the mission files do (``TUNITn = 'e-/s'``); lightkurve's ``to_fits``
    writes ``electron / s``, which FITS readers do not recognise."""
    from astropy.io import fits

    with fits.open(path, mode="update") as hdul:
        header = hdul[1].header
        for key in list(header):
            if key.startswith("TUNIT") and "electron" in str(header[key]):
                header[key] = "e-/s"


@dataclass
class TessKeplerCase:
    """Sample, products, their files (``files_dir``) and index table."""

    sample: pd.DataFrame
    products: list[Product]
    files_dir: Path
    index: pd.DataFrame = field(repr=False)

    def file_bytes(self) -> dict[str, bytes]:
        """dataURI -> file content."""
        return {p.data_uri: (self.files_dir / p.filename).read_bytes() for p in self.products}

    def seed_cache(self, cache_dir: Path) -> None:
        """Put every file where lightkurve's download_all looks (``mastDownload/...``)."""
        for p in self.products:
            target = cache_dir / "mastDownload" / p.collection / p.obs_id / p.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((self.files_dir / p.filename).read_bytes())

    def search_table(self, objectid: int, radius_arcsec: float = 1.0):
        """What ``lightkurve.search_lightcurve`` returns for an object: an astropy Table in the
        search-result shape (only products within the radius)."""
        from astropy.table import Table

        rows = self.index[(self.index["objectid"] == objectid) & (self.index["distance"] <= radius_arcsec)]
        return Table.from_pandas(rows.drop(columns=["objectid", "s_ra", "s_dec"]).reset_index(drop=True))


def build_case(directory: Path) -> TessKeplerCase:
    """Write the product files into ``directory`` and describe them."""
    sample = pd.DataFrame(
        {
            "objectid": [1, 2, 3, 4],
            "ra": [290.0, 120.0, 10.0, 60.0],
            "dec": [44.5, 20.0, -30.0, -10.0],
            "label": ["tk-1", "tk-2", "tk-3", "tk-4"],
        }
    )
    specs = [
        (1, "TESS Sector 14", "SPOC", "tess2019198215352-s0014-0000000000000001-0150-s_lc.fits", 0.2, True),
        (1, "Kepler Quarter 05", "Kepler", "kplr000000001-2010174085026_llc.fits", 0.3, True),
        (2, "K2 Campaign 05", "K2", "ktwo000000002-c05_llc.fits", 0.4, True),
        (2, "TESS Sector 21", "SPOC", "tess2020020091053-s0021-0000000000000022-0167-s_lc.fits", 5.0, True),
        (
            4,
            "TESS Sector 30",
            "QLP",
            "hlsp_qlp_tess_ffi_s0030-0000000000000004_tess_v01_llc.fits",
            0.1,
            False,
        ),
        (4, "TESS Sector 31", "SPOC", "tess2020294194027-s0031-0000000000000004-0198-s_lc.fits", 0.2, True),
    ]
    products = []
    for i, (oid, mission, author, filename, offset, readable) in enumerate(specs):
        time, flux, err = _series(100 + i, mission.split()[0])
        products.append(Product(oid, mission, author, filename, offset, time, flux, err, readable))
    directory.mkdir(parents=True, exist_ok=True)
    for product in products:
        write_product_fits(product, directory / product.filename)
    return TessKeplerCase(sample, products, directory, _index(sample, products))


def _index(sample: pd.DataFrame, products: list[Product]) -> pd.DataFrame:
    """The product index (search-result columns plus s_ra, s_dec and our objectid)."""
    rows = []
    positions = sample.set_index("objectid")
    for i, p in enumerate(products):
        ra, dec = positions.loc[p.objectid, ["ra", "dec"]]
        band = p.collection
        rows.append(
            {
                "objectid": p.objectid,
                "s_ra": float(ra),
                "s_dec": float(dec) + p.offset_arcsec / 3600.0,
                "description": "Light curves",
                "mission": p.mission,
                "author": p.author,
                "obs_collection": band,
                "obs_id": p.obs_id,
                "productFilename": p.filename,
                "dataURI": p.data_uri,
                "target_name": str(p.objectid),
                "exptime": 120.0 if band == "TESS" else 1800.0,
                "distance": p.offset_arcsec,
                "t_min": 58680.0 + i,
                "t_max": 58700.0 + i,
                "project": band,
                "targetid": p.objectid,
                "sequence_number": 14,
                "obsid": 1000 + i,
            }
        )
    return pd.DataFrame(rows)


class FakeMastDownload:
    """``GET /api/v0.1/Download/file?uri=<dataURI>``: the product's bytes, or 404.

    Attributes
    ----------
    uris : list of str
        The ``uri`` of every answered request.
    """

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.uris: list[str] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.uris.clear()

    def handle(self, request: Request) -> Response:
        if request.path != DOWNLOAD_PATH:
            return Response(404, "not found")
        uri = request.param("uri", "")
        with self._lock:
            self.uris.append(uri)
        if uri not in self.files:
            return Response(404, f"no such file {uri}")
        return Response(200, self.files[uri], "application/octet-stream")


@pytest.fixture(scope="session")
def tk_case(tmp_path_factory: pytest.TempPathFactory) -> TessKeplerCase:
    """The products, written once per session."""
    return build_case(tmp_path_factory.mktemp("tess_kepler_products"))


@pytest.fixture(scope="session")
def _tk_download_server(tk_case: TessKeplerCase) -> Iterator[LoopbackServer]:
    server = LoopbackServer(FakeMastDownload(tk_case.file_bytes())).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def tk_download_server(_tk_download_server: LoopbackServer) -> LoopbackServer:
    """Loopback MAST download endpoint (at ``server.url + DOWNLOAD_PATH``), reset per test."""
    _tk_download_server.reset()
    return _tk_download_server
