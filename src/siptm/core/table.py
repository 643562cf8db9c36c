"""The transaction table: identifiers, matching indices, load per bucket, in-use count.

Rules of this module:
- Every transaction gets a stable identifier ``hash_index:label`` (seeds: ``t_suspend``,
  MI ``t_reply``). As in the seeds' tm, ``hash_index`` is a hash of Call-ID and CSeq
  number (so an INVITE, its CANCEL and its ACK share a bucket). ``label`` counts
  transactions table-wide (the seeds count per bucket): unique on its own, so the pair
  never repeats while the table lives, and the table is keyed by it alone.
- Lookups are dictionaries keyed by the §17 keys, so their cost does not depend on
  the number of transactions; buckets exist for identifiers and statistics
  (``t_hash`` / ``tm.hash_stats``).
- A transaction leaves the matching indices when it terminates; it leaves the table
  (and the in-use count) when it is terminated and nobody holds a reference.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any
from zlib import crc32

from .keys import DialogKey, ServerKey

__all__ = ["TransactionTable"]


class TransactionTable:
    """Storage and indices. ``size`` (a power of two) is the number of buckets."""

    __slots__ = (
        "_by_label",
        "_hashed",
        "_label",
        "_mask",
        "client_by_key",
        "server_by_dialog",
        "server_by_key",
        "size",
    )

    def __init__(self, size: int = 65536) -> None:
        if size <= 0 or size & (size - 1):
            raise ValueError("table size must be a power of two")
        self.size = size
        self._mask = size - 1
        self._label = 0
        # Keyed by label: consecutive ints, so inserts and removals (mostly in creation
        # order) touch neighbouring slots of the dict instead of random ones, as
        # per-bucket counters and (hash_index, label) keys did; the loads per bucket are
        # counted when asked for (management only).
        self._by_label: dict[int, Any] = {}
        # the last (Call-ID, CSeq number, hash_index): a proxy's server and client
        # transactions of one request share it and are inserted one after the other
        self._hashed: tuple[str, int, int] = ("", -1, 0)
        self.server_by_key: dict[ServerKey, Any] = {}
        self.server_by_dialog: dict[DialogKey, list[Any]] = {}
        self.client_by_key: dict[tuple[str, str], Any] = {}

    # --- identifiers ------------------------------------------------------------------
    def hash_index(self, call_id: str, cseq_number: int) -> int:
        return crc32(f"{call_id}{cseq_number}".encode("utf-8", "surrogateescape")) & self._mask

    def insert(self, tx: Any, call_id: str, cseq_number: int) -> None:
        """Give ``tx`` its identifier and count it in."""
        hashed = self._hashed
        if hashed[1] == cseq_number and hashed[0] == call_id:
            index = hashed[2]
        else:
            index = crc32(
                f"{call_id}{cseq_number}".encode("utf-8", "surrogateescape")) & self._mask
            self._hashed = (call_id, cseq_number, index)
        label = self._label = self._label + 1
        tx.hash_index = index
        tx.label = label
        self._by_label[label] = tx

    def remove(self, tx: Any) -> bool:
        """Take ``tx`` out of the table (idempotent); True if it was there."""
        return self._by_label.pop(tx.label, None) is not None

    def get(self, ident: str | tuple[int, int]) -> Any:
        """The transaction with identifier ``"hash_index:label"`` (or the tuple)."""
        if isinstance(ident, str):
            index_text, sep, label_text = ident.partition(":")
            if not sep or not index_text.isdigit() or not label_text.isdigit():
                return None
            ident = (int(index_text), int(label_text))
        index, label = ident
        tx = self._by_label.get(label)
        return tx if tx is not None and tx.hash_index == index else None

    # --- matching indices ------------------------------------------------------------
    def add_server(self, tx: Any) -> None:
        key = tx.key
        if key is not None:
            self.server_by_key[key] = tx
        dialog = tx.dialog
        if dialog is not None:
            bucket = self.server_by_dialog.get(dialog)
            if bucket is None:
                self.server_by_dialog[dialog] = [tx]
            else:
                bucket.append(tx)

    # The drops pop first and put back what belongs to another transaction (rare: a
    # reused branch, a shared dialog key): one lookup of the key instead of two.
    def drop_server(self, tx: Any) -> None:
        key = tx.key
        if key is not None:
            found = self.server_by_key.pop(key, None)
            if found is not tx and found is not None:
                self.server_by_key[key] = found
        dialog = tx.dialog
        if dialog is not None:
            bucket = self.server_by_dialog.pop(dialog, None)
            if bucket is not None:
                if tx in bucket:
                    bucket.remove(tx)
                if bucket:
                    self.server_by_dialog[dialog] = bucket

    def add_client(self, tx: Any) -> None:
        self.client_by_key[(tx.branch, tx.method)] = tx

    def drop_client(self, tx: Any) -> None:
        key = (tx.branch, tx.method)
        found = self.client_by_key.pop(key, None)
        if found is not tx and found is not None:
            self.client_by_key[key] = found

    # --- statistics -------------------------------------------------------------------
    @property
    def in_use(self) -> int:
        """Transactions in the table (seed 003 ``inuse_transactions``)."""
        return len(self._by_label)

    def __len__(self) -> int:
        return len(self._by_label)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._by_label.values()))

    def bucket_load(self, index: int) -> int:
        return sum(1 for tx in self._by_label.values() if tx.hash_index == index)

    def loads(self) -> dict[int, int]:
        """``{bucket: transactions}`` for every non-empty bucket (MI ``t_hash``)."""
        return dict(sorted(Counter(tx.hash_index for tx in self._by_label.values()).items()))

    def hash_stats(self) -> dict[str, int]:
        """Summary for ``tm.hash_stats``: size, used buckets, busiest bucket, total."""
        loads = self.loads()
        return {
            "size": self.size,
            "used_buckets": len(loads),
            "max_load": max(loads.values(), default=0),
            "in_use": len(self._by_label),
        }
