"""A real Jupyter kernel (nbclient + ipykernel) shows a tool's image result inline.

The reference server has no tool that returns an image, so the kernel adds one to its
own copy of the tool table and serves the reference server from a thread of its own; the
blocking client then calls it from a cell, and the cell's output is what a notebook
shows: ``text/html`` with the image inline, ``text/plain`` a short summary.
"""

from __future__ import annotations

import base64
import os
import struct
import zlib

import nbformat
import pytest
from nbclient import NotebookClient

from duomcp.types._display import format_size


def png(width: int, height: int) -> bytes:
    """A valid RGB PNG of noise: it does not compress, so its base64 is long."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    rows = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 0))
        + chunk(b"IEND", b"")
    )


SERVE = """\
import asyncio, threading
from duomcp.testing import ReferenceServer, _fixtures

async def _image(ctx, args):
    return {"content": [
        {"type": "text", "text": "a square of noise"},
        {"type": "image", "data": PNG, "mimeType": "image/png"},
    ]}

_fixtures.TOOLS["image"] = _fixtures.Tool("image", "Return a PNG.", _image)
loop = asyncio.new_event_loop()
threading.Thread(target=loop.run_forever, daemon=True).start()
server = ReferenceServer()
URL = asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
"""

CALL = """\
import duomcp
with duomcp.Client(URL, timeout=10) as client:
    result = client.call_tool("image")
result
"""

REPR = "print(len(repr(result)))"

STOP = """\
asyncio.run_coroutine_threadsafe(server.close(), loop).result(30)
loop.call_soon_threadsafe(loop.stop)
"""


@pytest.mark.timeout(120)
def test_an_image_result_shows_inline_in_a_notebook() -> None:
    image = png(64, 64)
    data = base64.b64encode(image).decode()
    assert len(data) > 16_000
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(f"PNG = {data!r}\n{SERVE}"),
        nbformat.v4.new_code_cell(CALL),
        nbformat.v4.new_code_cell(REPR),
        nbformat.v4.new_code_cell(STOP),
    ]
    NotebookClient(notebook, timeout=60, kernel_name="python3").execute(
        env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    )

    (output,) = [o for o in notebook.cells[1].outputs if o["output_type"] == "execute_result"]
    html = output["data"]["text/html"]
    assert f'<img src="data:image/png;base64,{data}"' in html
    assert "a square of noise" in html
    plain = output["data"]["text/plain"]
    assert plain == f"a square of noise\n[image/png, {format_size(len(image))}]"

    (printed,) = [o for o in notebook.cells[2].outputs if o["output_type"] == "stream"]
    assert int(printed["text"]) < 500  # the repr: base64 cut short
