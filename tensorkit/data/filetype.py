"""netCDF recognised by content, and classic netCDF files shorter than their header declares.

The netCDF library reads the missing tail of a truncated classic file as fill values, so a cut
download or an interrupted copy would otherwise pass as data. The classic header (CDF-1, CDF-2 and
CDF-5) states every variable's shape and offset, which gives the size the file must have.
"""

from __future__ import annotations

import errno
import math
import os
import struct
from typing import BinaryIO

__all__ = ["check_netcdf_size", "is_netcdf"]

_HDF5 = b"\x89HDF\r\n\x1a\n"
_HDF5_OFFSETS = (0, 512, 1024, 2048, 4096)  # a user block before the HDF5 superblock has one of these sizes
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 8}
_STREAMING = 0xFFFFFFFF


def is_netcdf(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a netCDF file (classic ``CDF`` or netCDF-4/HDF5), judged by its bytes.

    ``False`` for a path that is no file (missing, a folder, a name too long); other read errors raise.
    """
    try:
        with open(path, "rb") as fh:
            if _classic_version(fh.read(4)):
                return True
            for offset in _HDF5_OFFSETS:
                fh.seek(offset)
                if fh.read(8) == _HDF5:
                    return True
    except OSError as err:
        if err.errno in (errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.ENAMETOOLONG):
            return False
        raise
    return False


def check_netcdf_size(path: str | os.PathLike) -> None:
    """Raise ``ValueError`` naming ``path`` if it is a classic netCDF file shorter than its header declares."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        version = _classic_version(fh.read(4))
        if not version:
            return
        try:
            needed = _declared_size(_Header(fh, version))
        except (struct.error, KeyError, ValueError):
            raise ValueError(f"{str(path)!r} is damaged: its netCDF header is incomplete or invalid") from None
    if size < needed:
        raise ValueError(f"{str(path)!r} is damaged (truncated): {size} bytes, but its netCDF header declares {needed}")


def _classic_version(magic: bytes) -> int:
    return magic[3] if len(magic) == 4 and magic[:3] == b"CDF" and magic[3] in (1, 2, 5) else 0


class _Header:
    """Big-endian reader of the classic header's fields."""

    def __init__(self, fh: BinaryIO, version: int) -> None:
        self.fh, self.version = fh, version

    def int(self, width: int = 4) -> int:
        data = self.fh.read(width)
        return struct.unpack(">I" if width == 4 else ">Q", data)[0]

    def count(self) -> int:
        return self.int(8 if self.version == 5 else 4)

    def skip(self, n: int) -> None:
        self.fh.seek(n + (-n % 4), os.SEEK_CUR)

    def name(self) -> None:
        self.skip(self.count())

    def attributes(self) -> None:
        self.int()  # NC_ATTRIBUTE or ABSENT
        for _ in range(self.count()):
            self.name()
            kind = self.int()
            self.skip(self.count() * _TYPE_SIZES[kind])


def _declared_size(h: _Header) -> int:
    """End of the last byte of data that the header places in the file."""
    numrecs = h.count()
    h.int()  # NC_DIMENSION or ABSENT
    dims = []
    for _ in range(h.count()):
        h.name()
        dims.append(h.count())
    h.attributes()
    h.int()  # NC_VARIABLE or ABSENT
    fixed, record = [], []
    for _ in range(h.count()):
        h.name()
        shape = [dims[h.count()] for _ in range(h.count())]
        h.attributes()
        nbytes = _TYPE_SIZES[h.int()]
        h.count()  # vsize: may be clipped for large variables, so the shape gives the size
        begin = h.int(4 if h.version == 1 else 8)
        if shape and shape[0] == 0:
            record.append((begin, nbytes * math.prod(shape[1:])))
        else:
            fixed.append((begin, nbytes * math.prod(shape)))
    ends = [begin + n for begin, n in fixed]
    if record and numrecs not in (0, _STREAMING):
        recsize = record[0][1] if len(record) == 1 else sum(n + (-n % 4) for _, n in record)
        ends += [begin + (numrecs - 1) * recsize + n for begin, n in record]
    return max(ends, default=0)
