#!/usr/bin/python3
# jsonrpc_server.py — owns the JSON-RPC test server of the request / subscription / rate-limit / recorder
# integration tests (Debian python3-websockets 10.4; run with /usr/bin/python3).
#
#   /usr/bin/python3 jsonrpc_server.py [--port N]
#   binds 127.0.0.1 (port 0 = ephemeral), prints "READY <port>", runs until killed or until stdin (a pipe) closes.
#
# Every text message received is logged per connection (and in a server-wide list) BEFORE it is handled, so a test
# can assert the exact messages on the wire. Replies are {"jsonrpc":"2.0","id":<same id>,"result":...} or
# {"jsonrpc":"2.0","id":<id>,"error":{"code":N,"message":"..."}}; ids are echoed with their JSON type.
#
# Control methods (any path):
#   test/echo          result = params
#   test/delay         result = params, after params.ms milliseconds (other requests keep being served meanwhile)
#   test/never         never answered
#   test/error         error {code: params.code (default -32000), message: params.message (default "boom")}
#   test/reorder       held until params.n test/reorder requests are held, then all answered in reverse order
#   test/reply_twice   the same reply sent twice
#   test/drop          the TCP connection is aborted (no close frame), after params.ms if given; never answered
#   test/tick          sends params.n (default 1) subscription notifications for each of params.channels, then
#                      answers "ok" (the ticks are on the wire before the reply)
#   test/push          sends each string of params.messages as a text frame, then answers "ok"
#   test/log           result = [texts received on this connection before this request];
#                      params.conn selects connection k (1-based, in accept order) instead
#   test/conns         result = number of connections accepted so far
#   test/count         result = number of messages received so far, all connections, containing params.contains
# Anything else with an id: error -32601 "method not found". Messages without an id get no answer.
#
# Deribit mode (any path except /binance...):
#   public/auth                 result {"access_token":"t","token_type":"bearer"}; marks the connection
#                               authenticated (query auth=reject: error 13004 "invalid_credentials")
#   public/subscribe            result = the channels confirmed (query sub=confirm, default), or error 11050
#                               (sub=reject); channels listed in query reject=a,b are left out of the result (partial)
#   private/subscribe           same, but error 13778 "unauthorized" unless public/auth succeeded on this connection
#   public|private/unsubscribe  result = the channels
#   public/test                 result {"version":"test"}
# Binance mode (path starting with /binance):
#   {"method":"SUBSCRIBE","params":[...],"id":N}    {"result":null,"id":N}; query sub=reject (or a stream in
#                                                   reject=...): {"error":{"code":2,"msg":"Invalid request"},"id":N}
#   {"method":"UNSUBSCRIBE",...}                    {"result":null,"id":N}
#   {"method":"LIST_SUBSCRIPTIONS","id":N}          {"result":[streams],"id":N}
import argparse
import asyncio
import json
import logging
import time
import urllib.parse

import websockets

from server_common import watch_stdin

logging.getLogger("websockets").setLevel(logging.CRITICAL)

CONN_LOGS = []   # index k-1: list of texts received on connection k
ALL = []         # (conn, monotonic time, text) for every text message


class Conn:
    def __init__(self, ws, path):
        CONN_LOGS.append([])
        self.index = len(CONN_LOGS)
        self.ws = ws
        parsed = urllib.parse.urlparse(path or "/")
        self.path = parsed.path
        q = urllib.parse.parse_qs(parsed.query)
        self.binance = self.path.startswith("/binance")
        self.sub_mode = q.get("sub", ["confirm"])[0]
        self.reject = set(",".join(q.get("reject", [""])).split(",")) - {""}
        self.auth_mode = q.get("auth", ["ok"])[0]
        self.authed = False
        self.subscribed = set()
        self.reorder = []
        self.tasks = set()

    @property
    def log(self):
        return CONN_LOGS[self.index - 1]

    async def send(self, obj):
        await self.ws.send(obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":")))

    async def reply(self, rid, result):
        await self.send({"jsonrpc": "2.0", "id": rid, "result": result})

    async def error(self, rid, code, message):
        await self.send({"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}})

    def spawn(self, coro):
        t = asyncio.ensure_future(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def handle(self, text):
        try:
            msg = json.loads(text)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        method = msg.get("method")
        has_id = "id" in msg and msg["id"] is not None
        rid = msg.get("id")
        params = msg.get("params")
        if isinstance(method, str) and method.startswith("test/"):
            return await self.control(method, rid, has_id, params if isinstance(params, dict) else {})
        if self.binance:
            return await self.binance_method(method, rid, has_id, params)
        return await self.deribit_method(method, rid, has_id, params if isinstance(params, dict) else {})

    async def control(self, method, rid, has_id, p):
        if method == "test/echo":
            if has_id:
                await self.reply(rid, p)
        elif method == "test/delay":
            async def later():
                await asyncio.sleep(float(p.get("ms", 0)) / 1000.0)
                try:
                    await self.reply(rid, p)
                except websockets.ConnectionClosed:
                    pass
            self.spawn(later())
        elif method == "test/never":
            pass
        elif method == "test/error":
            await self.error(rid, int(p.get("code", -32000)), str(p.get("message", "boom")))
        elif method == "test/reorder":
            self.reorder.append((rid, p))
            if len(self.reorder) >= int(p.get("n", 2)):
                held, self.reorder = self.reorder, []
                for r, pp in reversed(held):
                    await self.reply(r, pp)
        elif method == "test/reply_twice":
            await self.reply(rid, p)
            await self.reply(rid, p)
        elif method == "test/drop":
            async def drop():
                if p.get("ms"):
                    await asyncio.sleep(float(p["ms"]) / 1000.0)
                self.ws.transport.abort()
            if p.get("ms"):
                self.spawn(drop())
            else:
                await drop()
        elif method == "test/tick":
            for _ in range(int(p.get("n", 1))):
                for ch in p.get("channels", []):
                    await self.send({"jsonrpc": "2.0", "method": "subscription",
                                     "params": {"channel": ch, "data": {"price": 1.5, "ts": time.time()}}})
            if has_id:
                await self.reply(rid, "ok")
        elif method == "test/push":
            for m in p.get("messages", []):
                await self.send(m)
            if has_id:
                await self.reply(rid, "ok")
        elif method == "test/log":
            k = int(p.get("conn", self.index))
            log = CONN_LOGS[k - 1] if 1 <= k <= len(CONN_LOGS) else []
            if k == self.index:
                log = log[:-1]  # not this request itself
            await self.reply(rid, log)
        elif method == "test/conns":
            await self.reply(rid, len(CONN_LOGS))
        elif method == "test/count":
            needle = str(p.get("contains", ""))
            await self.reply(rid, sum(1 for (_, _, t) in ALL if needle in t))
        elif has_id:
            await self.error(rid, -32601, "method not found")

    async def deribit_method(self, method, rid, has_id, p):
        if method == "public/auth":
            if self.auth_mode == "reject":
                return await self.error(rid, 13004, "invalid_credentials")
            self.authed = True
            return await self.reply(rid, {"access_token": "t", "token_type": "bearer", "expires_in": 900})
        if method in ("public/subscribe", "private/subscribe"):
            chans = [c for c in p.get("channels", []) if isinstance(c, str)]
            if method == "private/subscribe" and not self.authed:
                return await self.error(rid, 13778, "unauthorized")
            if self.sub_mode == "reject":
                return await self.error(rid, 11050, "bad_request")
            ok = [c for c in chans if c not in self.reject]
            self.subscribed.update(ok)
            return await self.reply(rid, ok)
        if method in ("public/unsubscribe", "private/unsubscribe"):
            chans = [c for c in p.get("channels", []) if isinstance(c, str)]
            self.subscribed.difference_update(chans)
            return await self.reply(rid, chans)
        if method == "public/test":
            return await self.reply(rid, {"version": "test"})
        if has_id:
            await self.error(rid, -32601, "method not found")

    async def binance_method(self, method, rid, has_id, params):
        streams = [s for s in (params if isinstance(params, list) else []) if isinstance(s, str)]
        if method == "SUBSCRIBE":
            if self.sub_mode == "reject" or any(s in self.reject for s in streams):
                return await self.send({"error": {"code": 2, "msg": "Invalid request"}, "id": rid})
            self.subscribed.update(streams)
            return await self.send({"result": None, "id": rid})
        if method == "UNSUBSCRIBE":
            self.subscribed.difference_update(streams)
            return await self.send({"result": None, "id": rid})
        if method == "LIST_SUBSCRIPTIONS":
            return await self.send({"result": sorted(self.subscribed), "id": rid})
        if has_id:
            await self.send({"error": {"code": 2, "msg": "Unknown method"}, "id": rid})


async def handler(ws, path=None):
    if path is None:
        path = getattr(ws, "path", "/")
    conn = Conn(ws, path)
    try:
        async for msg in ws:
            if not isinstance(msg, str):
                continue
            conn.log.append(msg)
            ALL.append((conn.index, time.monotonic(), msg))
            await conn.handle(msg)
    except websockets.ConnectionClosed:
        pass
    finally:
        for t in list(conn.tasks):
            t.cancel()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    async with websockets.serve(handler, "127.0.0.1", a.port, max_size=16 << 20, max_queue=1024,
                                compression=None, ping_interval=None, ping_timeout=None) as server:
        port = server.sockets[0].getsockname()[1]
        watch_stdin()
        print("READY %d" % port, flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
