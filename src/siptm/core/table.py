"""The transaction table: identifiers, matching indices, load per bucket, in-use count.

Rules of this module:
- Every transaction gets a stable identifier ``hash_index:label`` (seeds: ``t_suspend``,
  MI ``t_reply``). As in the seeds' tm, ``hash_index`` is a hash of Call-ID and CSeq
  number (so an INVITE, its CANCEL and its ACK share a bucket) and ``label`` counts
  per bucket; the pair never repeats while the table lives.
- Lookups are dictionaries keyed by the §17 keys, so their cost does not depend on
  the number of transactions; buckets exist for identifiers and statistics
  (``t_hash`` / ``tm.hash_stats``).
- A transaction leaves the matching indices when it terminates; it leaves the table
  (and the in-use count) when it is terminated and nobody holds a reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from zlib import crc32

from .keys import DialogKey, ServerKey

__all__ = ["TransactionTable"]


class TransactionTable:
    """Storage and indices. ``size`` (a power of two) is the number of buckets."""

    __slots__ = (
        "_by_id",
        "_labels",
        "_loads",
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
        self._labels = [0] * size
        self._loads = [0] * size
        # keyed by label * size + hash_index: an int (hashes to itself, compares in one
        # step) instead of a (hash_index, label) tuple built for every insert and removal
        self._by_id: dict[int, Any] = {}
        self.server_by_key: dict[ServerKey, Any] = {}
        self.server_by_dialog: dict[DialogKey, list[Any]] = {}
        self.client_by_key: dict[tuple[str, str], Any] = {}

    # --- identifiers ------------------------------------------------------------------
    def hash_index(self, call_id: str, cseq_number: int) -> int:
        return crc32(f"{call_id}{cseq_number}".encode("utf-8", "surrogateescape")) & self._mask

    def insert(self, tx: Any, call_id: str, cseq_number: int) -> None:
        """Give ``tx`` its identifier and count it in."""
        index = crc32(
            f"{call_id}{cseq_number}".encode("utf-8", "surrogateescape")) & self._mask
        label = self._labels[index] + 1
        self._labels[index] = label
        self._loads[index] += 1
        tx.hash_index = index
        tx.label = label
        self._by_id[label * self.size + index] = tx

    def remove(self, tx: Any) -> bool:
        """Take ``tx`` out of the table (idempotent); True if it was there."""
        index = tx.hash_index
        if self._by_id.pop(tx.label * self.size + index, None) is None:
            return False
        self._loads[index] -= 1
        return True

    def get(self, ident: str | tuple[int, int]) -> Any:
        """The transaction with identifier ``"hash_index:label"`` (or the tuple)."""
        if isinstance(ident, str):
            index, sep, label = ident.partition(":")
            if not sep or not index.isdigit() or not label.isdigit():
                return None
            ident = (int(index), int(label))
        index, label = ident
        if not 0 <= index < self.size:
            return None
        return self._by_id.get(label * self.size + index)

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
        return len(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._by_id.values()))

    def bucket_load(self, index: int) -> int:
        return self._loads[index]

    def loads(self) -> dict[int, int]:
        """``{bucket: transactions}`` for every non-empty bucket (MI ``t_hash``)."""
        return {i: n for i, n in enumerate(self._loads) if n}

    def hash_stats(self) -> dict[str, int]:
        """Summary for ``tm.hash_stats``: size, used buckets, busiest bucket, total."""
        used = [n for n in self._loads if n]
        return {
            "size": self.size,
            "used_buckets": len(used),
            "max_load": max(used, default=0),
            "in_use": len(self._by_id),
        }
