#!/usr/bin/python3
# echo_python.py — owns the python-websockets echo peer for zenws interop tests (Debian python3-websockets 10.4;
# run with /usr/bin/python3, the only interpreter that sees Debian's packages).
#
#   /usr/bin/python3 echo_python.py [--port N] [--tls CERT KEY] [--deflate] [--ping SECONDS]
#   prints "READY <port>" once listening on 127.0.0.1; runs until killed or until stdin (when a pipe) closes.
#
# Echoes every message with the same opcode (max_size 64 MiB). Text messages starting with "!" are fault commands:
#   !drop              abort the TCP connection (no close frame: the client sees 1006)
#   !close CODE REASON close handshake with that code and reason
#   !nopong            stop answering pings on this connection
#   !frag              send "Hello, World" as a fragmented text message ("Hello, " + "World")
# Compression is off unless --deflate (zenws does not offer permessage-deflate, so it is never negotiated anyway).
# Server keepalive pings are off unless --ping.
import argparse
import asyncio
import ssl

import logging

import websockets

from server_common import watch_stdin

logging.getLogger("websockets").setLevel(logging.CRITICAL)


async def handler(ws, path=None):
    try:
        async for msg in ws:
            if isinstance(msg, str) and msg.startswith("!"):
                parts = msg.split(" ")
                cmd = parts[0]
                if cmd == "!drop":
                    ws.transport.abort()
                    return
                if cmd == "!close":
                    await ws.close(int(parts[1]) if len(parts) > 1 else 1000, " ".join(parts[2:]))
                    return
                if cmd == "!nopong":
                    async def no_pong(data=b""):
                        return None
                    ws.pong = no_pong  # the legacy protocol auto-pongs through self.pong
                    continue
                if cmd == "!frag":
                    await ws.send(iter(["Hello, ", "World"]))
                    continue
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--deflate", action="store_true")
    ap.add_argument("--ping", type=float, default=None)
    a = ap.parse_args()
    ctx = None
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
    async with websockets.serve(handler, "127.0.0.1", a.port, ssl=ctx, max_size=64 << 20,
                                max_queue=64, compression="deflate" if a.deflate else None,
                                ping_interval=a.ping, ping_timeout=a.ping) as server:
        port = server.sockets[0].getsockname()[1]
        watch_stdin()
        print("READY %d" % port, flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
