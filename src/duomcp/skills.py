"""Skills (the ``io.modelcontextprotocol/skills`` extension, SEP-2640): listed, then
loaded on demand, and verified before anything is handed over.

A server that offers the extension answers ``skills/list`` with each skill's ``SKILL.md``
URI, its frontmatter (``name``, ``description``...) and its files, each with a
``sha256:`` digest and a size in bytes. Files are read with ``resources/read`` only when
asked for (:meth:`duomcp.AsyncClient.load_skill`, :meth:`~duomcp.AsyncClient.read_skill_file`),
never ahead of need, and each is checked against its entry: its size, its digest, and
for ``SKILL.md`` its frontmatter against the listed one. Content that fails a check is
never returned: :class:`SkillVerificationError` names the file and what failed.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Any

import attrs

from .errors import InvalidResponseError, ProtocolError

__all__ = [
    "SKILLS_EXTENSION",
    "LoadedSkill",
    "Skill",
    "SkillFile",
    "SkillVerificationError",
]

SKILLS_EXTENSION = "io.modelcontextprotocol/skills"
"""The extension's id in a server's ``extensions`` capability."""

_MAX_SKILLS = 10_000
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class SkillVerificationError(ProtocolError):
    """A skill's file did not match its listed entry (digest, size or frontmatter): its
    content was not returned."""

    def __init__(self, message: str, *, uri: str, check: str) -> None:
        super().__init__(message)
        self.uri = uri
        self.check = check
        """What failed: ``"size"``, ``"digest"`` or ``"frontmatter"``."""


@attrs.frozen(kw_only=True)
class SkillFile:
    """One file of a skill, as listed: where it is and what it must hash to."""

    uri: str
    digest: str
    """``sha256:`` and the lower-case hex SHA-256 of the file's bytes."""
    size: int
    """The file's size in bytes."""


@attrs.frozen(kw_only=True)
class Skill:
    """A skill a server lists (nothing of it has been read yet)."""

    uri: str
    """Its ``SKILL.md``."""
    frontmatter: Mapping[str, Any]
    files: tuple[SkillFile, ...]

    @property
    def name(self) -> str:
        """The skill's name (from its frontmatter)."""
        return str(self.frontmatter.get("name", ""))

    @property
    def description(self) -> str:
        """What the skill is for (from its frontmatter)."""
        return str(self.frontmatter.get("description", ""))

    def file(self, uri: str) -> SkillFile:
        """The entry of one of the skill's files.

        Raises:
            KeyError: the skill lists no such file.
        """
        for entry in self.files:
            if entry.uri == uri:
                return entry
        raise KeyError(f"skill {self.name!r} lists no file {uri!r}")


@attrs.frozen(kw_only=True)
class LoadedSkill:
    """A skill whose ``SKILL.md`` was read and verified."""

    skill: Skill
    text: str
    """The whole ``SKILL.md``, frontmatter included."""

    @property
    def body(self) -> str:
        """``SKILL.md`` without its frontmatter: the instructions."""
        return split_frontmatter(self.text)[1]


def parse_skills(raw: Any) -> list[Skill]:
    """The skills of a ``skills/list`` result.

    Raises:
        InvalidResponseError: the result is not a list of skills with valid entries.
    """
    items = raw.get("skills") if isinstance(raw, Mapping) else None
    if not isinstance(items, list) or len(items) > _MAX_SKILLS:
        raise InvalidResponseError("skills/list did not return a list of skills")
    skills = []
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("uri"), str):
            raise InvalidResponseError("skills/list returned a skill without a uri")
        frontmatter = item.get("frontmatter")
        files = item.get("resources")
        if not isinstance(frontmatter, Mapping) or not isinstance(files, list):
            raise InvalidResponseError(f"skill {item['uri']!r}: no frontmatter or resources")
        entries = []
        for entry in files:
            ok = isinstance(entry, Mapping) and isinstance(entry.get("uri"), str)
            digest = entry.get("digest") if ok else None
            size = entry.get("size") if ok else None
            if not (isinstance(digest, str) and _DIGEST.match(digest)) or not (
                isinstance(size, int) and not isinstance(size, bool) and size >= 0
            ):
                raise InvalidResponseError(f"skill {item['uri']!r}: a file entry is malformed")
            entries.append(SkillFile(uri=entry["uri"], digest=digest, size=size))
        skills.append(Skill(uri=item["uri"], frontmatter=dict(frontmatter), files=tuple(entries)))
    return skills


def content_bytes(raw: Any, uri: str) -> bytes:
    """The bytes of a ``resources/read`` result for ``uri`` (text as UTF-8, blobs decoded).

    Raises:
        InvalidResponseError: no content for ``uri``.
    """
    contents = raw.get("contents") if isinstance(raw, Mapping) else None
    for item in contents if isinstance(contents, list) else []:
        if isinstance(item, Mapping) and item.get("uri") == uri:
            if isinstance(item.get("text"), str):
                return str(item["text"]).encode("utf-8")
            if isinstance(item.get("blob"), str):
                return base64.b64decode(item["blob"])
    raise InvalidResponseError(f"resources/read returned no content for {uri!r}")


def verify(entry: SkillFile, data: bytes) -> None:
    """Check a file's bytes against its entry: size first, then digest.

    Raises:
        SkillVerificationError: they do not match.
    """
    if len(data) != entry.size:
        raise SkillVerificationError(
            f"skill file {entry.uri} is {len(data)} bytes, not the {entry.size} listed: not used",
            uri=entry.uri,
            check="size",
        )
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if digest != entry.digest:
        raise SkillVerificationError(
            f"skill file {entry.uri} does not match its listed digest: not used",
            uri=entry.uri,
            check="digest",
        )


def split_frontmatter(text: str) -> tuple[dict[str, str], str]:
    """The ``---`` delimited frontmatter of a ``SKILL.md`` (top-level ``key: value``
    lines) and the body after it."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return {}, text
    fields: dict[str, str] = {}
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return fields, "".join(lines[index + 1 :])
        if line[:1].isspace() or ":" not in line:
            continue  # nested values and list items are not compared
        key, _, value = line.partition(":")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        fields[key.strip()] = value
    return {}, text  # no closing line: no frontmatter


def verify_frontmatter(skill: Skill, text: str) -> None:
    """Check that ``SKILL.md``'s frontmatter says what the listing said.

    Raises:
        SkillVerificationError: a listed field is missing or differs.
    """
    fields, _ = split_frontmatter(text)
    for key, listed in skill.frontmatter.items():
        if not isinstance(listed, (str, int, float, bool)):
            continue  # nested values are not compared
        expected = str(listed).lower() if isinstance(listed, bool) else str(listed)
        if fields.get(key) != expected:
            raise SkillVerificationError(
                f"skill file {skill.uri}: its frontmatter {key!r} differs from the listed "
                "one: not used",
                uri=skill.uri,
                check="frontmatter",
            )
