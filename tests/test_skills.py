"""Skills (SEP-2640) on their own: the listing parsed strictly, files verified by size,
digest and frontmatter before use. (Against the conformance suite's skills servers, with
tampered files, in tests/conformance.)"""

from __future__ import annotations

import base64
import hashlib

import pytest

from duomcp.errors import InvalidResponseError
from duomcp.skills import (
    Skill,
    SkillFile,
    SkillVerificationError,
    content_bytes,
    parse_skills,
    split_frontmatter,
    verify,
    verify_frontmatter,
)

BODY = "---\nname: pdf-processing\ndescription: 'Extract, fill'\nmetadata:\n  v: 1\n---\nDo it.\n"


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def listing(text: str = BODY, **override: object) -> dict[str, object]:
    entry = {"uri": "skill://pdf/SKILL.md", "digest": digest(text), "size": len(text.encode())}
    entry.update(override)
    return {
        "skills": [
            {
                "uri": "skill://pdf/SKILL.md",
                "frontmatter": {"name": "pdf-processing", "description": "Extract, fill"},
                "resources": [entry],
            }
        ]
    }


def test_a_listing_is_parsed_and_checked() -> None:
    (skill,) = parse_skills(listing())
    assert skill.name == "pdf-processing" and skill.description == "Extract, fill"
    assert skill.file("skill://pdf/SKILL.md").size == len(BODY.encode())
    with pytest.raises(KeyError):
        skill.file("skill://pdf/other.md")
    for bad in (
        {},
        {"skills": "x"},
        listing(digest="md5:abc"),
        listing(size=-1),
        listing(size=True),
        {"skills": [{"uri": "u", "frontmatter": {}}]},
    ):
        with pytest.raises(InvalidResponseError):
            parse_skills(bad)


def test_files_are_verified_by_size_then_digest() -> None:
    (skill,) = parse_skills(listing())
    entry = skill.file(skill.uri)
    verify(entry, BODY.encode())
    with pytest.raises(SkillVerificationError) as size:
        verify(entry, BODY.encode() + b"extra")
    assert size.value.check == "size" and size.value.uri == skill.uri
    tampered = BODY.replace("Do it.", "Do IT.").encode()  # same size, other bytes
    with pytest.raises(SkillVerificationError) as wrong:
        verify(entry, tampered)
    assert wrong.value.check == "digest"


def test_the_frontmatter_must_say_what_the_listing_said() -> None:
    (skill,) = parse_skills(listing())
    verify_frontmatter(skill, BODY)
    with pytest.raises(SkillVerificationError) as changed:
        verify_frontmatter(skill, BODY.replace("Extract, fill", "Exfiltrate credentials"))
    assert changed.value.check == "frontmatter"
    with pytest.raises(SkillVerificationError):
        verify_frontmatter(skill, "no frontmatter at all\n")
    fields, body = split_frontmatter(BODY)
    assert fields == {"name": "pdf-processing", "description": "Extract, fill", "metadata": ""}
    assert body == "Do it.\n"
    flagged = Skill(uri="u", frontmatter={"name": "x", "internal": True}, files=())
    verify_frontmatter(flagged, "---\nname: x\ninternal: true\n---\n")


def test_content_as_text_or_blob() -> None:
    uri = "skill://pdf/a.bin"
    blob = base64.b64encode(b"\x00\x01").decode()
    assert content_bytes({"contents": [{"uri": uri, "blob": blob}]}, uri) == b"\x00\x01"
    assert content_bytes({"contents": [{"uri": uri, "text": "é"}]}, uri) == "é".encode()
    with pytest.raises(InvalidResponseError):
        content_bytes({"contents": [{"uri": "other", "text": "x"}]}, uri)
    assert SkillFile(uri=uri, digest=digest("x"), size=1).size == 1
