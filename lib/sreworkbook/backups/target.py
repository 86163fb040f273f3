"""What a restore target can hold, found out before restoring: the restore plan.

An archive's prelude carries each collection's options and index specifications. Servers
differ in what they accept (FerretDB has no views, TTL, partial or hidden indexes, no
validators, and silently drops ``sparse``), so :func:`plan_restore` tries each collection's
options and each index on throw-away probe collections in the (empty) scratch database,
reads them back, and plans the restore without what the target refuses or does not keep: an
index whose option is refused is still built, without that option. It also tries what the
restoring tool itself adds: ``mongorestore`` sends ``ns`` with every index (and
``ignoreUnknownIndexOptions``), which FerretDB refuses (``Index option "ns" is unknown``);
the plan then has the tool skip indexes and the workbook builds them without ``ns``.
Each difference becomes a WARN finding naming the collection and the option: the data is
restored, the difference is reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bson import SON, json_util

from sreworkbook.backups.report import CollectionMetadata, Prelude
from sreworkbook.edges.mongo import mongo_error
from sreworkbook.exceptions import ArchiveError
from sreworkbook.results import Finding, Status

__all__ = [
    "CollectionPlan",
    "Omission",
    "RestorePlan",
    "collection_metadata",
    "describe_server",
    "index_request",
    "plan_restore",
]

#: Index fields that are not options of the index itself.
_INDEX_IDENTITY = {"v", "key", "name", "ns", "background"}
_PROBE = "sreworkbook_probe"
#: The option ``mongorestore`` adds to every index it creates (``db.collection``).
TOOL_NS = "ns"


@dataclass(frozen=True)
class Omission:
    """Something the source has that the target will not: an index, an option, a view.

    ``what`` starts with ``index`` for anything about indexes (``index ttl_1``, ``index ttl_1
    option expireAfterSeconds``, ``index option ns``) and with ``collection option`` for a
    collection's options; ``title`` overrides the finding's default wording.
    """

    collection: str
    what: str
    reason: str
    title: str = ""

    def finding(self) -> Finding:
        title = self.title or f"{self.collection}: {self.what} not restored (target limit)"
        return Finding(Status.WARN, title, self.reason)


@dataclass(frozen=True)
class CollectionPlan:
    """How one collection of the archive is restored."""

    name: str
    type: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    indexes: tuple[Mapping[str, Any], ...] = ()
    restore: bool = True

    @property
    def is_view(self) -> bool:
        return self.type == "view"


@dataclass(frozen=True)
class RestorePlan:
    """The restore of one database of an archive onto one target server."""

    source_db: str
    collections: tuple[CollectionPlan, ...]
    omissions: tuple[Omission, ...] = ()
    server: str = ""

    def get(self, name: str) -> CollectionPlan | None:
        return next((c for c in self.collections if c.name == name), None)

    @property
    def restored(self) -> tuple[str, ...]:
        """Collections whose documents are restored (views hold none)."""
        return tuple(c.name for c in self.collections if c.restore and not c.is_view)

    @property
    def skipped(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.collections if not c.restore)

    @property
    def indexes_reduced(self) -> bool:
        """True when some index of the archive is left out."""
        return any(o.what.startswith("index ") for o in self.omissions)

    @property
    def options_reduced(self) -> bool:
        """True when some collection option of the archive is left out."""
        return any(o.what.startswith("collection option ") for o in self.omissions)

    def findings(self) -> tuple[Finding, ...]:
        return tuple(o.finding() for o in self.omissions)


def collection_metadata(entry: CollectionMetadata) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(options, indexes)`` from a prelude entry's extended-JSON metadata."""
    if not entry.metadata:
        return {}, []
    try:
        meta = json_util.loads(entry.metadata)
    except ValueError as exc:
        raise ArchiveError(
            f"unreadable metadata of {entry.namespace}: {exc}", source=entry.namespace, verdict="ok"
        ) from exc
    options = dict(meta.get("options") or {}) if isinstance(meta, Mapping) else {}
    indexes = meta.get("indexes") if isinstance(meta, Mapping) else None
    return options, [dict(ix) for ix in indexes or () if isinstance(ix, Mapping)]


def index_request(spec: Mapping[str, Any]) -> dict[str, Any]:
    """An index specification from ``listIndexes`` as ``createIndexes`` takes it.

    ``v``, ``ns`` and ``background`` are dropped: the target picks its own index version
    (FerretDB refuses the field) and the others are obsolete.
    """
    return {k: v for k, v in spec.items() if k not in {"v", "ns", "background"}}


def describe_server(client: Any) -> str:
    """``"FerretDB v1.24.2 (MongoDB 7.0.42 wire)"`` or ``"MongoDB 7.0.14"``."""
    from pymongo.errors import PyMongoError

    try:
        info = client.admin.command("buildInfo")
    except PyMongoError as exc:
        raise mongo_error(exc, query="buildInfo") from exc
    version = str(info.get("version", "?"))
    if "ferretdbVersion" in info:
        return f"FerretDB {info['ferretdbVersion']} (MongoDB {version} wire)"
    return f"MongoDB {version}"


def _short(exc: Exception) -> str:
    details = getattr(exc, "details", None) or {}
    text = str(details.get("errmsg") or exc) if isinstance(details, Mapping) else str(exc)
    text = re.sub(r" with value .*? is not implemented", " is not implemented", text)
    return text.split(", full error:")[0][:200]


class _Prober:
    """Tries options and indexes on probe collections in the target database."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.count = 0
        self.made: list[str] = []
        self.last = ""

    def name(self) -> str:
        self.count += 1
        name = f"{_PROBE}_{self.count}"
        self.made.append(name)
        return name

    def create(self, options: Mapping[str, Any]) -> tuple[str, str | None]:
        """Create a probe collection with ``options``; ``(name, error or None)``."""
        from pymongo.errors import OperationFailure

        name = self.name()
        try:
            self.db.command(SON([("create", name), *options.items()]))
        except OperationFailure as exc:
            return name, _short(exc)
        return name, None

    def kept_options(self, name: str) -> set[str]:
        found = list(self.db.list_collections(filter={"name": name}))
        return set(found[0].get("options") or {}) if found else set()

    def build(self, spec: Mapping[str, Any], **extra: Any) -> str | None:
        """None if ``spec`` builds on a fresh probe collection, else why not."""
        from pymongo.errors import OperationFailure

        probe, error = self.create({})
        if error:
            return f"probe collection: {error}"
        wanted = index_request(spec)
        if extra.pop("with_ns", False):
            wanted[TOOL_NS] = f"{self.db.name}.{probe}"
        try:
            self.db.command(SON([("createIndexes", probe), ("indexes", [wanted]), *extra.items()]))
        except OperationFailure as exc:
            return _short(exc)
        self.last = probe
        return None

    def listed(self, name: str) -> Mapping[str, Any] | None:
        """The index ``name`` of the last probe built, as the target lists it."""
        return next((ix for ix in self.db[self.last].list_indexes() if ix["name"] == name), None)

    def index(self, spec: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
        """The index as the target will build it (None: not at all), and what it loses.

        The losses are ``(option, why)``: an option refused (found by trying each alone) or
        accepted but not kept; ``("", why)`` when even the bare key and name are refused.
        """
        options = [k for k in spec if k not in _INDEX_IDENTITY]
        refused: dict[str, str] = {}
        if (error := self.build(spec)) is not None:
            bare = {k: v for k, v in spec.items() if k not in options}
            if (why := self.build(bare)) is not None:
                return None, [("", why)]
            for key in options:
                why = self.build({**bare, key: spec[key]})
                if why is not None:
                    refused[key] = why
            if not refused:  # only together: keep none of them
                refused = dict.fromkeys(options, error)
            kept = {k: v for k, v in spec.items() if k not in refused}
            if (why := self.build(kept)) is not None:
                return None, [("", why)]
        else:
            kept = dict(spec)
        back = self.listed(str(spec["name"]))
        if back is None:
            return None, [("", "accepted but not listed afterwards")]
        lost = [(k, refused[k]) for k in options if k in refused]
        lost += [(k, "accepted but not kept") for k in options if k in kept and k not in back]
        return {k: v for k, v in kept.items() if k not in dict(lost)}, lost

    def tool_ns(self) -> str | None:
        """None if the target takes an index carrying ``ns`` as mongorestore sends it."""
        spec = {"key": {"_probe": 1}, "name": "_probe_1"}
        return self.build(spec, with_ns=True, ignoreUnknownIndexOptions=True)

    def cleanup(self) -> None:
        for name in reversed(self.made):
            self.db.drop_collection(name)


def _probe_options(
    prober: _Prober, options: Mapping[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The options the target keeps, and ``(option, why not)`` for the others."""
    probe, error = prober.create(options)
    refused: dict[str, str] = {}
    accepted = dict(options)
    if error:  # which ones does it refuse? one at a time
        for key, value in options.items():
            _, why = prober.create({key: value})
            if why:
                refused[key] = why
        accepted = {k: v for k, v in options.items() if k not in refused}
        probe, error = prober.create(accepted)
    kept_keys = prober.kept_options(probe) if not error else set()
    lost = [
        (k, refused.get(k) or error or "accepted but not kept")
        for k in options
        if k not in kept_keys
    ]
    return {k: v for k, v in accepted.items() if k in kept_keys}, lost


def _plan_collection(
    prober: _Prober | None, entry: CollectionMetadata, timeseries: bool
) -> tuple[CollectionPlan, list[Omission]]:
    name = entry.collection
    options, indexes = collection_metadata(entry)
    omissions: list[Omission] = []
    if entry.type == "timeseries" and not timeseries:
        why = "timeseries collections are restored only by mongorestore"
        return CollectionPlan(name, entry.type, restore=False), [Omission(name, "collection", why)]
    if prober is not None and entry.type == "view":
        _, error = prober.create({"viewOn": f"{_PROBE}_base", "pipeline": []})
        if error:
            why = f"the target has no views ({error}); a view holds no data"
            return CollectionPlan(name, "view", options, restore=False), [
                Omission(name, "view", why)
            ]
    kept_options = dict(options)
    if prober is not None and options and entry.type != "view":
        kept_options, lost_options = _probe_options(prober, options)
        omissions.extend(Omission(name, f"collection option {k}", why) for k, why in lost_options)
    built = []
    for spec in indexes:
        if spec.get("name") == "_id_" or entry.type == "view":
            continue
        kept, lost = prober.index(spec) if prober is not None else (dict(spec), [])
        name_of = spec.get("name")
        for option, why in lost:
            if not option:
                omissions.append(Omission(name, f"index {name_of}", why))
            else:
                title = f"{name}: index {name_of} built without option {option} (target limit)"
                omissions.append(Omission(name, f"index {name_of} option {option}", why, title))
        if kept is not None:
            built.append(kept)
    return CollectionPlan(name, entry.type, kept_options, tuple(built)), omissions


def _tool_ns_omissions(prober: _Prober, plans: Sequence[CollectionPlan]) -> list[Omission]:
    """A WARN per collection with indexes when the target refuses mongorestore's ``ns``."""
    indexed = [c for c in plans if c.restore and not c.is_view and c.indexes]
    why = prober.tool_ns() if indexed else None
    if why is None:
        return []
    return [
        Omission(
            c.name,
            f"index option {TOOL_NS}",
            f"{why}: mongorestore adds {TOOL_NS!r} to every index it restores; built by the "
            f"workbook without it: {', '.join(str(ix.get('name')) for ix in c.indexes)}",
            f"{c.name}: index option {TOOL_NS} refused by the target, indexes built without it",
        )
        for c in indexed
    ]


def plan_restore(
    prelude: Prelude,
    source_db: str,
    *,
    target: Any | None,
    timeseries: bool = False,
    tool_ns: bool = False,
    server: str = "",
) -> RestorePlan:
    """The plan for restoring ``source_db`` of an archive into the database ``target``.

    ``target`` (a pymongo ``Database``, empty) is probed, and the probes dropped afterwards;
    with ``None`` everything is planned as it is in the archive. ``timeseries`` says whether
    the engine restores timeseries collections, ``tool_ns`` whether it sends ``ns`` with
    each index (mongorestore does).
    """
    from pymongo.errors import PyMongoError

    entries: Sequence[CollectionMetadata] = [e for e in prelude.collections if e.db == source_db]
    prober = _Prober(target) if target is not None else None
    plans, omissions = [], []
    try:
        for entry in entries:
            plan, lost = _plan_collection(prober, entry, timeseries)
            plans.append(plan)
            omissions.extend(lost)
        if prober is not None and tool_ns:
            omissions.extend(_tool_ns_omissions(prober, plans))
        if prober is not None:
            prober.cleanup()
    except PyMongoError as exc:
        raise mongo_error(exc, query="probe the restore target") from exc
    return RestorePlan(source_db, tuple(plans), tuple(omissions), server)
