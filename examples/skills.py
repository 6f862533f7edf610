"""Skills (SEP-2640): listed without reading a file, loaded on demand, verified first.

Starts the modern reference server with its one skill, lists it, loads `SKILL.md` and a
template it names; then makes the server serve altered files (another digest, another
size, a changed frontmatter) and shows each one refused before any of it is used.

Run: .venv/bin/python examples/skills.py
"""

from __future__ import annotations

import asyncio
import logging

from duomcp import AsyncClient
from duomcp.skills import SkillVerificationError
from duomcp.testing import ReferenceServer


async def main() -> None:
    logging.getLogger("duomcp").setLevel(logging.ERROR)  # the server's deliberately odd tools
    async with ReferenceServer(era="modern", skills=True) as server:
        # cache=False: a cached read would hide the tampering this example shows
        async with AsyncClient(server.url, timeout=10, cache=False) as client:
            (skill,) = await client.list_skills()
            print(f"skill {skill.name}: {skill.description} ({len(skill.files)} files)")
            loaded = await client.load_skill(skill)
            print(f"SKILL.md verified; first line: {loaded.body.splitlines()[0]}")
            template = await client.read_skill_file(skill, "skill://release-notes/template.md")
            print(f"template.md verified: {template.decode().splitlines()[0]}")
            for tamper in ("digest", "size", "frontmatter"):
                server.faults.tamper_skills = tamper
                (skill,) = await client.list_skills()  # listed again, as a new session would
                try:
                    await client.load_skill(skill)
                except SkillVerificationError as exc:
                    print(f"tampered {tamper}: refused ({exc.check} check of {exc.uri})")


if __name__ == "__main__":
    asyncio.run(main())
