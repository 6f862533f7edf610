"""Generate ``src/duomcp/types/_models.py`` from the MCP JSON schemas.

    python codegen/models.py [--check]

Reads ``../shared/spec/2025-11-25/schema.json`` and adds what ``2026-07-28`` defines on
top (new definitions, new optional fields). Every object definition becomes a frozen attrs
class with snake_case fields; each field records its wire name in its metadata, which the
converter in ``duomcp._wire`` uses. Unions of objects become type aliases listed in
``UNIONS``; content-block unions also admit ``UnknownContent``.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT.parent / "shared" / "spec"
OUT = ROOT / "src" / "duomcp" / "types" / "_models.py"
BASE, NEWER = "2025-11-25", "2026-07-28"
PRIMITIVE = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
OPEN_UNIONS = {"ContentBlock", "SamplingMessageContentBlock"}  # unknown `type` is kept
ANY_DEFS = {"JSONValue", "JSONArray", "JSONObject"}
# 2026-07-28 widened these; the older, narrower type must not reject newer servers.
WIDENED = {("CallToolResult", "structuredContent")}
# JSON Schemas stay plain dicts: every keyword must survive untouched for validation.
RAW_SCHEMAS = {
    ("Tool", "inputSchema"),
    ("Tool", "outputSchema"),
    ("ElicitRequestFormParams", "requestedSchema"),
}


def snake(name: str) -> str:
    if name == "_meta":
        return "meta"
    name = name.rsplit("/", 1)[-1]  # "io.modelcontextprotocol/protocolVersion"
    out = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
    out = re.sub(r"\W", "_", out).strip("_")
    return out + "_" if keyword.iskeyword(out) else out


def load() -> dict[str, Any]:
    base = json.loads((SPEC / BASE / "schema.json").read_text())["$defs"]
    newer = json.loads((SPEC / NEWER / "schema.json").read_text())["$defs"]
    merged = dict(base)
    for name, schema in newer.items():
        if name not in merged:
            merged[name] = schema
            continue
        old = merged[name]
        if "properties" in old and "properties" in schema:
            props = dict(old["properties"])
            for key, value in schema["properties"].items():
                props.setdefault(key, value)
            # a field is required only if both versions require it
            required = [r for r in old.get("required", []) if r in schema.get("required", [])]
            merged[name] = {**old, "properties": props, "required": required}
    return merged


class Generator:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.objects: dict[str, dict[str, Any]] = {}
        self.unions: dict[str, list[str]] = {}
        for name, schema in sorted(defs.items()):
            props = self.object_props(schema)
            if props is not None:
                self.objects[name] = {"properties": props, "required": self.required(schema)}
        # Inline objects with known properties (``CompleteResult.completion``,
        # ``ServerCapabilities.tools``) get classes of their own: ParentField.
        self.inline: dict[int, str] = {}
        for name, info in list(self.objects.items()):
            for wire, prop in info["properties"].items():
                if (name, wire) in RAW_SCHEMAS:
                    info["properties"][wire] = {"type": "object"}
                elif prop.get("type") == "object" and prop.get("properties"):
                    cls = name + snake(wire).title().replace("_", "")
                    self.objects[cls] = {
                        "properties": dict(prop["properties"]),
                        "required": list(prop.get("required", [])),
                    }
                    self.inline[id(prop)] = cls
        for name, schema in sorted(defs.items()):
            members = self.union_members(schema)
            if members and name not in self.objects:
                self.unions[name] = members
        # objects that are maps of one kind of value (InputRequests: key -> InputRequest)
        self.maps: dict[str, dict[str, Any]] = {
            name: schema["additionalProperties"]
            for name, schema in sorted(defs.items())
            if name not in self.objects
            and schema.get("type") == "object"
            and isinstance(schema.get("additionalProperties"), dict)
            and {"$ref", "anyOf"} & schema["additionalProperties"].keys()
        }

    def object_props(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        if "allOf" in schema:
            props: dict[str, Any] = {}
            for part in schema["allOf"]:
                sub = self.defs[part["$ref"].rsplit("/", 1)[1]] if "$ref" in part else part
                props.update(self.object_props(sub) or {})
            return props
        if schema.get("type") == "object" and "properties" in schema:
            return dict(schema["properties"])
        return None

    def required(self, schema: dict[str, Any]) -> list[str]:
        if "allOf" in schema:
            out: list[str] = []
            for part in schema["allOf"]:
                sub = self.defs[part["$ref"].rsplit("/", 1)[1]] if "$ref" in part else part
                out += self.required(sub)
            return out
        return list(schema.get("required", []))

    def union_members(self, schema: dict[str, Any]) -> list[str] | None:
        options = schema.get("anyOf") or schema.get("oneOf")
        if not options:
            return None
        members = []
        for option in options:
            if "$ref" not in option:
                return None
            ref = option["$ref"].rsplit("/", 1)[1]
            if ref not in self.defs or self.object_props(self.defs[ref]) is None:
                return None
            members.append(ref)
        return members

    def type_of(self, schema: dict[str, Any]) -> str:
        if id(schema) in self.inline:
            return self.inline[id(schema)]
        if "$ref" in schema:
            ref = schema["$ref"].rsplit("/", 1)[1]
            if ref in self.objects or ref in self.unions or ref in self.maps:
                return ref
            target = self.defs.get(ref, {})
            if ref in ANY_DEFS:
                return "Any"
            return self.type_of(target)
        if "const" in schema:
            return "str" if isinstance(schema["const"], str) else "Any"
        options = schema.get("anyOf") or schema.get("oneOf")
        if options:
            types = [self.type_of(option) for option in options]
            if "Any" in types:
                return "Any"
            return " | ".join(dict.fromkeys(types))
        kind = schema.get("type")
        if isinstance(kind, list):
            return (
                " | ".join(PRIMITIVE.get(k, "Any") for k in kind)
                if all(k in PRIMITIVE for k in kind)
                else "Any"
            )
        if kind in PRIMITIVE:
            return PRIMITIVE[kind]
        if kind == "array":
            return f"tuple[{self.type_of(schema.get('items', {}))}, ...]"
        if kind == "object":
            return "dict[str, Any]"
        return "Any"

    def render(self) -> str:
        lines = [
            '"""Models of every MCP schema definition.',
            "",
            "Generated by codegen/models.py; do not edit.",
            "",
            f"Source: the official schemas {BASE} and {NEWER} (Apache-2.0 / MIT), see",
            "tests/fixtures/spec-examples/README.md. Field metadata holds the wire names.",
            '"""',
            "",
            "from __future__ import annotations",
            "",
            "from collections.abc import Mapping",
            "from typing import Any",
            "",
            "import attrs",
            "",
            "",
            "def _extra() -> Any:",
            "    return attrs.field(factory=dict, repr=False, metadata={'extra': True})",
            "",
            "",
            "@attrs.frozen(kw_only=True)",
            "class UnknownContent:",
            '    """A content block of a type duomcp does not know; every field is kept."""',
            "",
            "    type: str = attrs.field(metadata={'wire': 'type'})",
            "    extra: Mapping[str, Any] = _extra()",
            "",
        ]
        for name, info in self.objects.items():
            lines += ["", "@attrs.frozen(kw_only=True)", f"class {name}:"]
            lines.append(f'    """The MCP ``{name}`` object."""')
            lines.append("")
            required = set(info["required"])
            for wire, schema in sorted(
                info["properties"].items(), key=lambda kv: kv[0] not in required
            ):
                attr = snake(wire)
                typ = "Any" if (name, wire) in WIDENED else self.type_of(schema)
                meta = f"metadata={{'wire': {wire!r}}}"
                if "const" in schema and isinstance(schema["const"], str) and wire in required:
                    lines.append(
                        f"    {attr}: str = attrs.field(default={schema['const']!r}, {meta})"
                    )
                elif wire in required:
                    lines.append(f"    {attr}: {typ} = attrs.field({meta})")
                else:
                    opt = typ if typ == "Any" else f"{typ} | None"
                    lines.append(f"    {attr}: {opt} = attrs.field(default=None, {meta})")
            lines.append("    extra: Mapping[str, Any] = _extra()")
            lines.append("")
        lines.append("")
        for name, members in self.unions.items():
            if name in OPEN_UNIONS:
                members = [*members, "UnknownContent"]
            lines.append(f"{name} = {' | '.join(members)}")
        for name, value in self.maps.items():
            lines.append(f"{name} = dict[str, {self.type_of(value)}]")
        lines.append("")
        lines.append("ALIASES: dict[str, Any] = {")
        for name in [*self.unions, *self.maps]:
            lines.append(f"    {name!r}: {name},")
        lines.append("}")
        lines.append("MODELS: tuple[type, ...] = (UnknownContent, " + ", ".join(self.objects) + ")")
        lines.append("")
        names = ["UnknownContent", *self.objects, *self.unions, *self.maps]
        lines.insert(13, "__all__ = [" + ", ".join(repr(n) for n in sorted(names)) + "]\n")
        return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = Generator(load()).render()
    target = OUT.with_suffix(".new.py") if args.check else OUT
    target.write_text(text)
    subprocess.run([sys.executable, "-m", "ruff", "format", "--quiet", str(target)], check=True)
    if args.check:
        same = target.read_text() == OUT.read_text()
        target.unlink()
        if not same:
            print("src/duomcp/types/_models.py is stale: run codegen/models.py", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
