"""The descriptors of the archives mwlc ships, one module each (see :mod:`mwlc.archives.base`).

Each module defines ``ARCHIVE``, the archive's :class:`~mwlc.archives.base.Archive`; the
readers themselves (``mwlc.archives.ztf`` ...) take seconds to import and are imported only by
the jobs that read. An archive of your own can keep its descriptor beside its ``fetch``, in one
module (see :mod:`mwlc.archives.registry`).
"""
