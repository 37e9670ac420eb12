"""Content hashes that make imports idempotent: the same content always gives the same hash."""
import hashlib
import json


def content_hash(value) -> str:
    """sha256 of a string, or of canonical JSON for anything else (chat messages, lists)."""
    if not isinstance(value, str):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def prompt_hash(*, text: str, messages: list | None) -> str:
    return content_hash(messages if messages else text)


def task_hash(*, prompt_hash: str, response_hashes: list[str]) -> str:
    # Response order matters for nothing a user sees (display order is shuffled), so sort.
    return content_hash([prompt_hash, sorted(response_hashes)])


def pair_hash(*, prompt_hash: str, chosen_hash: str, rejected_hash: str, criterion: str = "") -> str:
    return content_hash([prompt_hash, chosen_hash, rejected_hash, criterion])


def messages_to_text(messages: list[dict]) -> str:
    """A readable transcript, in the HH style, for search, admin lists and encoders."""
    names = {"user": "Human", "assistant": "Assistant"}
    return "".join(f"\n\n{names.get(m['role'], m['role'].title())}: {m['content']}" for m in messages).lstrip("\n")
