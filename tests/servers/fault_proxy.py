#!/usr/bin/python3
# fault_proxy.py — owns the fault-injecting TCP proxy for zenws integration tests (stdlib asyncio only).
#
#   /usr/bin/python3 fault_proxy.py TARGET_HOST:TARGET_PORT [--port N] [--control-port N]
#   prints "READY <listen_port> <control_port>" once listening (both on 127.0.0.1); runs until killed or until stdin
#   (when a pipe) closes. Only 127.0.0.1 / localhost targets are accepted.
#
# Control port: one command per line, each answered with one line "OK ..." (or "ERR ..."):
#   latency MS               delay every chunk by MS milliseconds, in each direction (order preserved)
#   blackhole up|down|both|off  silently drop bytes client->server (up), server->client (down) or both;
#                            sockets stay open (a half-open link)
#   reset                    RST every current connection, both sides (SO_LINGER 0, then close)
#   refuse on|off            accept new connections and RST them at once
#   slice N                  write in N-byte pieces (0 = off)
#   close                    FIN both sides of every current connection
#   count                    "OK <n>": connections accepted so far
#   active                   "OK <n>": connections currently open
import argparse
import asyncio
import socket
import struct
import sys
import time

from server_common import watch_stdin


class State:
    latency = 0.0
    blackhole_up = False
    blackhole_down = False
    refuse = False
    slice = 0
    accepted = 0
    conns = set()


def rst(writer):
    sock = writer.get_extra_info("socket")
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


class Link:
    def __init__(self, cr, cw, sr, sw):
        self.cr, self.cw, self.sr, self.sw = cr, cw, sr, sw
        self.tasks = []

    def start(self):
        for src, dst, up in ((self.cr, self.sw, True), (self.sr, self.cw, False)):
            q = asyncio.Queue()
            self.tasks.append(asyncio.ensure_future(self.pump_in(src, q, up)))
            self.tasks.append(asyncio.ensure_future(self.pump_out(dst, q)))

    async def pump_in(self, src, q, up):
        try:
            while True:
                data = await src.read(65536)
                if not data:
                    break
                if (State.blackhole_up if up else State.blackhole_down):
                    continue
                q.put_nowait((time.monotonic() + State.latency, data))
        except (ConnectionError, OSError):
            pass
        q.put_nowait((time.monotonic() + State.latency, None))

    async def pump_out(self, dst, q):
        try:
            while True:
                due, data = await q.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    if dst.can_write_eof():
                        dst.write_eof()
                    return
                n = State.slice
                if n and n > 0:
                    for i in range(0, len(data), n):
                        dst.write(data[i:i + n])
                        await dst.drain()
                else:
                    dst.write(data)
                    await dst.drain()
        except (ConnectionError, OSError):
            self.abort()

    def abort(self):
        for w in (self.cw, self.sw):
            rst(w)
        self.done()

    def fin(self):
        for w in (self.cw, self.sw):
            try:
                w.close()
            except Exception:
                pass
        self.done()

    def done(self):
        State.conns.discard(self)
        for t in self.tasks:
            if t is not asyncio.current_task():
                t.cancel()


async def on_client(cr, cw, target):
    State.accepted += 1
    if State.refuse:
        rst(cw)
        return
    try:
        sr, sw = await asyncio.wait_for(asyncio.open_connection(*target), 5)
    except Exception:
        rst(cw)
        return
    for w in (cw, sw):
        s = w.get_extra_info("socket")
        if s is not None:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    link = Link(cr, cw, sr, sw)
    State.conns.add(link)
    link.start()
    await asyncio.gather(*link.tasks, return_exceptions=True)
    if link in State.conns:
        link.fin()


def command(line):
    parts = line.split()
    if not parts:
        return "ERR empty command"
    cmd, arg = parts[0].lower(), (parts[1].lower() if len(parts) > 1 else "")
    if cmd == "latency":
        State.latency = max(0, int(arg)) / 1000.0
        return "OK latency %d" % int(arg)
    if cmd == "blackhole":
        if arg not in ("up", "down", "both", "off"):
            return "ERR blackhole up|down|both|off"
        State.blackhole_up = arg in ("up", "both")
        State.blackhole_down = arg in ("down", "both")
        return "OK blackhole %s" % arg
    if cmd == "reset":
        n = len(State.conns)
        for link in list(State.conns):
            link.abort()
        return "OK reset %d" % n
    if cmd == "refuse":
        if arg not in ("on", "off"):
            return "ERR refuse on|off"
        State.refuse = arg == "on"
        return "OK refuse %s" % arg
    if cmd == "slice":
        State.slice = max(0, int(arg))
        return "OK slice %d" % State.slice
    if cmd == "close":
        n = len(State.conns)
        for link in list(State.conns):
            link.fin()
        return "OK close %d" % n
    if cmd == "count":
        return "OK %d" % State.accepted
    if cmd == "active":
        return "OK %d" % len(State.conns)
    return "ERR unknown command %s" % cmd


async def on_control(r, w):
    try:
        while True:
            line = await r.readline()
            if not line:
                break
            try:
                reply = command(line.decode("utf-8", "replace").strip())
            except (ValueError, IndexError) as e:
                reply = "ERR %s" % e
            w.write((reply + "\n").encode())
            await w.drain()
    except (ConnectionError, OSError):
        pass
    w.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target", help="HOST:PORT on loopback")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--control-port", type=int, default=0)
    a = ap.parse_args()
    host, _, port = a.target.rpartition(":")
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        print("fault_proxy: only loopback targets are allowed", file=sys.stderr)
        sys.exit(2)
    target = (host.strip("[]"), int(port))
    srv = await asyncio.start_server(lambda r, w: on_client(r, w, target), "127.0.0.1", a.port)
    ctl = await asyncio.start_server(on_control, "127.0.0.1", a.control_port)
    watch_stdin()
    print("READY %d %d" % (srv.sockets[0].getsockname()[1], ctl.sockets[0].getsockname()[1]), flush=True)
    async with srv, ctl:
        await asyncio.gather(srv.serve_forever(), ctl.serve_forever())


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
