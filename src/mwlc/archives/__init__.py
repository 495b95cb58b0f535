"""One module per archive, each exposing the same small interface.

An archive module defines

``NAME``
    the canonical, lower-case name used in config and in the dataset partition (``archive=NAME``);
``BANDS``
    the band names it may write (keys of :data:`mwlc.schema.BANDS`);
``fetch(sample, *, source, threads=1, mem_mb=None, **params) -> Iterator[pyarrow.RecordBatch]``
    light curves of the objects in ``sample`` (a pandas frame with ``objectid, ra, dec, label``;
    ra/dec in degrees, ICRS), streamed in :data:`mwlc.schema.LIGHTCURVE_SCHEMA`.

:mod:`mwlc.archives.registry` maps user-facing names and old names to these modules.
"""
