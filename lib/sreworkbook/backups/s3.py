"""S3 for backups: the S3 edge's functions under the names the backup modules use.

Everything here lives in :mod:`sreworkbook.edges.s3` (one place for ``s3://`` URLs, clients and
botocore errors); this module only re-exports it, so ``from sreworkbook.backups.s3 import
client_for`` keeps working. New code imports :mod:`sreworkbook.edges.s3`.
"""

from sreworkbook.edges.s3 import (
    DUMMY_KEYS,
    S3Object,
    S3Stream,
    client_for,
    download,
    head_object,
    is_loopback,
    list_objects,
    make_client,
    open_object,
    parse_s3_url,
)

__all__ = [
    "DUMMY_KEYS",
    "S3Object",
    "S3Stream",
    "client_for",
    "download",
    "head_object",
    "is_loopback",
    "list_objects",
    "make_client",
    "open_object",
    "parse_s3_url",
]
