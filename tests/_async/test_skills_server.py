"""Skills (SEP-2640) end to end against the modern reference server, both flavours: the
listing reads no file, files are read when asked and verified first, and each kind of
tampering is refused with the check that caught it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from duomcp import AsyncClient
from duomcp.skills import SkillVerificationError
from duomcp.testing import ReferenceServer, ServerFaults

from ..conftest import ServerThread

TEMPLATE = "skill://release-notes/template.md"


@pytest.fixture
def skills_server(faults: ServerFaults) -> Iterator[ReferenceServer]:
    with ServerThread.running(faults, era="modern", skills=True) as st:
        yield st.server


def reads(server: ReferenceServer) -> int:
    return sum(
        1
        for r in server.requests
        if isinstance(r.body, dict) and r.body.get("method") == "resources/read"
    )


async def test_skills_are_listed_then_read_on_demand(skills_server: ReferenceServer) -> None:
    async with AsyncClient(skills_server.url, timeout=10, cache=False) as client:
        (skill,) = await client.list_skills()
        assert skill.name == "release-notes" and len(skill.files) == 2
        assert reads(skills_server) == 0  # nothing prefetched
        loaded = await client.load_skill(skill)
        assert loaded.body.startswith("Group the changes")
        assert (await client.read_skill_file(skill, TEMPLATE)).startswith(b"## [version]")
        assert reads(skills_server) == 2


@pytest.mark.parametrize("tamper", ["digest", "size", "frontmatter"])
async def test_tampered_skill_files_are_refused(
    skills_server: ReferenceServer, faults: ServerFaults, tamper: str
) -> None:
    faults.tamper_skills = tamper  # type: ignore[assignment]
    async with AsyncClient(skills_server.url, timeout=10, cache=False) as client:
        (skill,) = await client.list_skills()
        with pytest.raises(SkillVerificationError) as caught:
            await client.load_skill(skill)
        assert caught.value.check == tamper
        assert caught.value.uri == skill.uri
