"""Record a ComfyUI server's websocket messages as JSON lines (run with the engine's Python).

Usage: ``python ws_listen.py ws://127.0.0.1:PORT/ws?clientId=ID OUT.jsonl``. Binary messages
(preview images) are skipped. Stops when the server closes the socket or the process is killed.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp


async def listen(url: str, out: str) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        with open(out, "a", encoding="utf-8") as fh:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    fh.write(msg.data.replace("\n", " ") + "\n")
                    fh.flush()


if __name__ == "__main__":
    asyncio.run(listen(sys.argv[1], sys.argv[2]))
