"""Deterministic demo data for the sandbox's MongoDB: users, customers, promotions, trades,
audit logs. Same size and anchor, same documents."""

from __future__ import annotations

import random
import string
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo.collection import Collection
from pymongo.database import Database

__all__ = ["COLLECTIONS", "MARKER_DATABASE", "SEED_VERSION", "SeedReport", "plan", "seed_database"]

#: Bump when the generated documents change, so existing sandboxes are reseeded.
SEED_VERSION = 1
#: Where the "already seeded" markers live (not in the seeded database, so not in its dumps).
MARKER_DATABASE = "sreworkbook_sandbox"

#: Share of the documents each collection gets, in seeding order.
COLLECTIONS = {
    "users": 0.05,
    "customers": 0.15,
    "promotions": 0.02,
    "trades": 0.48,
    "audit_logs": 0.30,
}
_BATCH = 2_000
_FIRST = [
    "Thandi",
    "Sipho",
    "Aisha",
    "Liam",
    "Maria",
    "Chen",
    "Ravi",
    "Emma",
    "Kofi",
    "Sofia",
    "Noah",
    "Zanele",
    "Lucas",
    "Priya",
    "Olivia",
    "Mateo",
]
_LAST = [
    "Nkosi",
    "Dlamini",
    "Smith",
    "Patel",
    "Garcia",
    "Wang",
    "Mokoena",
    "Müller",
    "Okafor",
    "Rossi",
    "Naidoo",
    "Johnson",
    "Kim",
    "Silva",
]
_CITIES = [
    ("Johannesburg", "ZA"),
    ("Cape Town", "ZA"),
    ("London", "GB"),
    ("Berlin", "DE"),
    ("Lagos", "NG"),
    ("Nairobi", "KE"),
    ("New York", "US"),
    ("Singapore", "SG"),
]
_PRODUCTS = [
    ("SKU-1001", "Maize futures", "agri"),
    ("SKU-1002", "Wheat futures", "agri"),
    ("SKU-2001", "Brent crude", "energy"),
    ("SKU-2002", "Natural gas", "energy"),
    ("SKU-3001", "Gold spot", "metals"),
    ("SKU-3002", "Platinum spot", "metals"),
    ("SKU-4001", "USD/ZAR forward", "fx"),
]
_ACTIONS = [
    "user.login",
    "user.logout",
    "trade.create",
    "trade.update",
    "trade.cancel",
    "promotion.update",
    "customer.update",
    "ai.forecast",
]


@dataclass(frozen=True)
class SeedReport:
    """What :func:`seed_database` did: documents per collection, whether it skipped, time."""

    counts: dict[str, int]
    skipped: bool
    seconds: float

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def plan(total: int) -> dict[str, int]:
    """How many documents each collection gets for ``total``; every collection gets at least
    one when there are enough (the documents refer to users and customers)."""
    counts = {name: int(total * share) for name, share in COLLECTIONS.items()}
    counts["audit_logs"] += total - sum(counts.values())
    if total >= len(COLLECTIONS):
        for name in counts:
            while counts[name] < 1:
                largest = max(counts, key=lambda n: counts[n])
                counts[largest] -= 1
                counts[name] += 1
    return counts


class _Gen:
    def __init__(self, anchor: datetime, seed: int) -> None:
        self.rng = random.Random(seed)
        self.anchor = anchor
        self.users: list[ObjectId] = []
        self.customers: list[ObjectId] = []

    def when(self, days: float = 90) -> datetime:
        when = self.anchor - timedelta(seconds=self.rng.uniform(0, days * 86_400))
        return when.replace(microsecond=when.microsecond // 1000 * 1000)

    def oid(self, at: datetime) -> ObjectId:
        return ObjectId(struct.pack(">I", int(at.timestamp())) + self.rng.randbytes(8))

    def user(self, i: int) -> dict[str, Any]:
        first, last = self.rng.choice(_FIRST), self.rng.choice(_LAST)
        created = self.when(365)
        oid = self.oid(created)
        self.users.append(oid)
        return {
            "_id": oid,
            "email": f"{first.lower()}.{last.lower()}{i}@tradeai.example",
            "firstName": first,
            "lastName": last,
            "role": self.rng.choices(["trader", "analyst", "manager", "admin"], [60, 25, 10, 5])[0],
            "passwordHash": "$2b$10$"
            + "".join(self.rng.choices(string.ascii_letters + string.digits + "./", k=53)),
            "isActive": self.rng.random() > 0.08,
            "lastLoginAt": self.when(30),
            "preferences": {
                "theme": self.rng.choice(["light", "dark"]),
                "notifications": {"email": True, "sms": self.rng.random() < 0.3},
            },
            "createdAt": created,
            "updatedAt": created + timedelta(days=self.rng.uniform(0, 30)),
        }

    def customer(self, i: int) -> dict[str, Any]:
        city, country = self.rng.choice(_CITIES)
        created = self.when(365)
        oid = self.oid(created)
        self.customers.append(oid)
        name = f"{self.rng.choice(_LAST)} {self.rng.choice(['Holdings', 'Trading', 'Capital', 'Agri', 'Logistics', 'Foods'])}"
        return {
            "_id": oid,
            "code": f"CUST-{i:06d}",
            "name": name,
            "email": f"accounts{i}@{name.split()[0].lower()}.example",
            "phone": f"+{self.rng.randrange(10, 99)} {self.rng.randrange(100, 999)} {self.rng.randrange(1000, 9999)}",
            "address": {
                "street": f"{self.rng.randrange(1, 400)} Main Road",
                "city": city,
                "country": country,
                "postalCode": f"{self.rng.randrange(1000, 9999)}",
            },
            "tier": self.rng.choices(["gold", "silver", "bronze"], [10, 30, 60])[0],
            "creditLimit": self.rng.randrange(10, 500) * 1000,
            "accountManager": self.rng.choice(self.users),
            "status": self.rng.choices(["active", "suspended", "closed"], [90, 6, 4])[0],
            "tags": self.rng.sample(
                ["fx", "agri", "energy", "metals", "vip", "new"], k=self.rng.randrange(0, 3)
            ),
            "createdAt": created,
            "updatedAt": created + timedelta(days=self.rng.uniform(0, 60)),
        }

    def promotion(self, i: int) -> dict[str, Any]:
        start = self.when(120)
        budget = self.rng.randrange(5, 200) * 1000
        sku, pname, _ = self.rng.choice(_PRODUCTS)
        return {
            "_id": self.oid(start),
            "name": f"{self.rng.choice(['Spring', 'Harvest', 'Volume', 'Loyalty', 'Launch'])} promo {i}",
            "type": self.rng.choice(["discount", "rebate", "bundle"]),
            "discountPercent": self.rng.choice([2.5, 5, 7.5, 10, 15]),
            "budget": budget,
            "spent": round(budget * self.rng.uniform(0, 1.1), 2),
            "startDate": start,
            "endDate": start + timedelta(days=self.rng.choice([14, 30, 60, 90])),
            "status": self.rng.choice(["draft", "active", "active", "ended"]),
            "customerIds": self.rng.sample(self.customers, k=min(3, len(self.customers))),
            "products": [{"sku": sku, "name": pname}],
            "createdBy": self.rng.choice(self.users),
        }

    def trade(self, i: int) -> dict[str, Any]:
        created = self.when()
        sku, pname, category = self.rng.choice(_PRODUCTS)
        quantity = self.rng.randrange(1, 500)
        price = round(self.rng.uniform(5, 2500), 2)
        status = self.rng.choices(["pending", "executed", "settled", "cancelled"], [5, 15, 75, 5])[
            0
        ]
        executed = (
            created + timedelta(seconds=self.rng.uniform(1, 120)) if status != "pending" else None
        )
        return {
            "_id": self.oid(created),
            "tradeNumber": f"TRD-{created:%Y}-{i:07d}",
            "customerId": self.rng.choice(self.customers),
            "userId": self.rng.choice(self.users),
            "side": self.rng.choice(["buy", "sell"]),
            "product": {"sku": sku, "name": pname, "category": category},
            "quantity": quantity,
            "unitPrice": price,
            "amount": round(quantity * price, 2),
            "currency": self.rng.choice(["USD", "USD", "ZAR", "EUR"]),
            "status": status,
            "executedAt": executed,
            "settledAt": executed + timedelta(days=2) if executed and status == "settled" else None,
            "aiForecast": {
                "model": "tradeai-forecast-v3",
                "predictedPrice": round(price * self.rng.uniform(0.9, 1.1), 2),
                "confidence": round(self.rng.uniform(0.55, 0.98), 3),
            },
            "createdAt": created,
        }

    def audit_log(self, i: int) -> dict[str, Any]:
        at = self.when(30)
        action = self.rng.choice(_ACTIONS)
        return {
            "_id": self.oid(at),
            "action": action,
            "userId": self.rng.choice(self.users),
            "entityType": action.split(".")[0],
            "entityId": str(self.rng.choice(self.customers)),
            "ip": f"10.{self.rng.randrange(256)}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}",
            "userAgent": self.rng.choice(
                [
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0",
                    "Mozilla/5.0 (Macintosh) Safari/17.6",
                    "TradeAI-Mobile/3.2 (Android 14)",
                ]
            ),
            "correlationId": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "timestamp": at,
            "details": {"result": self.rng.choices(["success", "failure"], [95, 5])[0], "seq": i},
        }


def _documents(gen: _Gen, name: str, count: int) -> Iterator[dict[str, Any]]:
    make: Callable[[int], dict[str, Any]] = {
        "users": gen.user,
        "customers": gen.customer,
        "promotions": gen.promotion,
        "trades": gen.trade,
        "audit_logs": gen.audit_log,
    }[name]
    return (make(i) for i in range(1, count + 1))


def seed_database(
    db: Database[dict[str, Any]],
    marker: Collection[dict[str, Any]],
    *,
    total: int,
    anchor: datetime,
    seed: int = 42,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> SeedReport:
    """Fill ``db`` with ``total`` demo documents unless ``marker`` says it already was.

    ``anchor`` (aware, UTC) is the "now" the timestamps lie before. The marker (kept outside
    ``db`` so dumps of ``db`` do not carry it) is written last, so a partial earlier seed is
    dropped and redone; counting documents instead would take seconds on FerretDB. The caller
    maps driver errors.
    """
    wanted = plan(total)
    began = time.monotonic()
    stamp = {"_id": db.name, "total": total, "seed": seed, "version": SEED_VERSION}
    if marker.find_one(stamp) is not None and set(wanted) <= set(db.list_collection_names()):
        return SeedReport(wanted, True, time.monotonic() - began)
    marker.delete_one({"_id": db.name})
    for name in wanted:
        db.drop_collection(name)
    gen = _Gen(anchor.astimezone(UTC), seed)
    inserted, everything = 0, sum(wanted.values())
    for name, count in wanted.items():
        batch: list[dict[str, Any]] = []
        for doc in _documents(gen, name, count):
            batch.append(doc)
            if len(batch) >= _BATCH:
                db[name].insert_many(batch, ordered=False)
                inserted += len(batch)
                progress(inserted, everything)
                batch = []
        if batch:
            db[name].insert_many(batch, ordered=False)
            inserted += len(batch)
            progress(inserted, everything)
    db["users"].create_index("email", unique=True)
    db["trades"].create_index([("customerId", 1), ("createdAt", -1)])
    db["audit_logs"].create_index("timestamp")
    marker.insert_one({**stamp, "seededAt": datetime.now(UTC), "counts": wanted})
    return SeedReport(wanted, False, time.monotonic() - began)
