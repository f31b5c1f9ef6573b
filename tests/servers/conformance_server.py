#!/usr/bin/python3
# conformance_server.py — owns the scripted WebSocket conformance server for zenws integration tests.
#
# A stdlib-only (asyncio) WebSocket server with its own handshake and frame writer, so it can send frames no real
# server library would: it re-creates the Autobahn client case groups 1-7 and 9 (subset) plus extra cases (masked
# server frame, 64-bit length with the high bit set), handshake-failure paths and a plain echo.
#
#   /usr/bin/python3 conformance_server.py [--port N] [--tls CERT KEY] [--verbose]
#   prints "READY <port>" once listening; runs until killed or until stdin (when it is a pipe) closes.
#
# Paths:  /case/<name>      play one scripted case; the server records a verdict for it
#         /verdict/<name>   one text message {"case","verdict":"PASS"|"FAIL"|"PENDING","detail"} then close 1000
#         /cases            one text message: JSON array of {"case","expect","code"?,"desc"} then close 1000
#                           expect = "echo" (client echoes, server closes 1000), "peer_close" (server sends a close
#                           frame with `code`, client replies), or an int (the client must fail with that close code)
#         /echo             echo (same opcode), answers pings and closes
#         /handshake/{503,429,bad_accept,no_upgrade,no_connection,never_101,extension,subprotocol,piggyback}
import argparse
import asyncio
import base64
import hashlib
import json
import socket
import ssl
import struct
import sys
import time

from server_common import watch_stdin

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONT, TEXT, BIN, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
RSV1, RSV2, RSV3 = 0x40, 0x20, 0x10
OPNAME = {CONT: "cont", TEXT: "text", BIN: "binary", CLOSE: "close", PING: "ping", PONG: "pong"}
VERBOSE = False


def log(*a):
    if VERBOSE:
        print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- frame writing

def xor_mask(data, mask):
    n = len(data)
    if n == 0:
        return b""
    m = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(m, "little")).to_bytes(n, "little")


def frame(op, payload=b"", fin=True, rsv=0, mask=None, length=None):
    """A server frame; deliberately allows invalid ones (rsv bits, reserved opcodes, masks, wrong lengths)."""
    if isinstance(payload, str):
        payload = payload.encode()
    b0 = (0x80 if fin else 0) | rsv | op
    n = len(payload) if length is None else length
    mbit = 0x80 if mask is not None else 0
    if n < 126:
        hdr = bytes([b0, mbit | n])
    elif n < 65536:
        hdr = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        hdr = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if mask is not None:
        hdr += mask
        payload = xor_mask(payload, mask)
    return hdr + payload


def close_frame(code=None, reason=b"", raw=None):
    if raw is not None:
        return frame(CLOSE, raw)
    if code is None:
        return frame(CLOSE, b"")
    if isinstance(reason, str):
        reason = reason.encode()
    return frame(CLOSE, struct.pack("!H", code) + reason)


async def read_frame(reader):
    """One client frame: (fin, rsv, opcode, payload, masked)."""
    h = await reader.readexactly(2)
    fin = bool(h[0] & 0x80)
    rsv = h[0] & 0x70
    op = h[0] & 0x0F
    masked = bool(h[1] & 0x80)
    n = h[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
        if n > (64 << 20):
            raise ValueError("client frame too large: %d" % n)
    mask = await reader.readexactly(4) if masked else None
    payload = await reader.readexactly(n) if n else b""
    if mask:
        payload = xor_mask(payload, mask)
    return fin, rsv, op, payload, masked


def parse_close(payload):
    if len(payload) >= 2:
        return struct.unpack("!H", payload[:2])[0], payload[2:]
    return None, payload


def describe(ev):
    op, data = ev[0], ev[1]
    if op == CLOSE:
        return "close(%s,%r)" % (ev[1], ev[2][:40])
    shown = data[:24]
    return "%s[%d]%r%s" % (OPNAME.get(op, op), len(data), shown, "..." if len(data) > 24 else "")


# ---------------------------------------------------------------------------------------------- the cases

class Case:
    def __init__(self, name, desc, steps, expect="echo", events=(), code=None, timeout=5.0):
        self.name, self.desc, self.steps, self.expect = name, desc, steps, expect
        self.events = list(events)  # expected client frames before the close: (op, payload)
        self.code = code            # peer_close: the code we send (1005 = empty close payload)
        self.timeout = timeout

    def entry(self):
        e = {"case": self.name, "expect": self.expect, "desc": self.desc}
        if self.expect == "peer_close":
            e["code"] = self.code
        return e


CASES = {}


def add(case):
    assert case.name not in CASES, case.name
    CASES[case.name] = case


def S(data, chop=None, gap=0.0):
    return ("send", data, chop, gap)


def SLEEP(s):
    return ("sleep", s)


def FAILFAST(s):
    """The client must have sent its close frame within s seconds from here (else the case FAILs as NON-STRICT)."""
    return ("failfast", s)


def echo_case(name, desc, steps, events, timeout=10.0):
    add(Case(name, desc, steps, "echo", events, timeout=timeout))


def fail_case(name, desc, steps, code, events=(), timeout=5.0):
    add(Case(name, desc, steps, code, events, timeout=timeout))


def peer_close_case(name, desc, steps, code, events=()):
    add(Case(name, desc, steps, "peer_close", events, code=code))


def build_cases():
    # ---- 1 framing
    sizes = [0, 125, 126, 127, 128, 65535, 65536]
    for gi, op, ch in ((1, TEXT, b"*"), (2, BIN, b"\xfe")):
        for i, n in enumerate(sizes, 1):
            p = ch * n
            echo_case("1.%d.%d" % (gi, i), "%s payload %d" % (OPNAME[op], n), [S(frame(op, p))], [(op, p)])
        p = ch * 65536
        echo_case("1.%d.8" % gi, "%s 65536 in 997-byte chops" % OPNAME[op], [S(frame(op, p), chop=997)], [(op, p)])
    p = bytes(range(32, 127)) * 20
    echo_case("1.3.1", "text 1900 B written octet by octet", [S(frame(TEXT, p), chop=1)], [(TEXT, p)], timeout=20)
    p = b"\x00\xff" * 32768
    echo_case("1.3.2", "binary 65536 B: 64-bit header octet by octet, payload in 997 chops",
              [S(frame(BIN, p)[:10], chop=1), S(frame(BIN, p)[10:], chop=997)], [(BIN, p)])

    # ---- 2 ping/pong
    echo_case("2.1", "ping empty", [S(frame(PING))], [(PONG, b"")])
    echo_case("2.2", "ping text payload", [S(frame(PING, b"Hello, world!"))], [(PONG, b"Hello, world!")])
    bp = b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
    echo_case("2.3", "ping binary payload", [S(frame(PING, bp))], [(PONG, bp)])
    echo_case("2.4", "ping 125 B", [S(frame(PING, b"\xfe" * 125))], [(PONG, b"\xfe" * 125)])
    fail_case("2.5", "ping 126 B (control frame too long)", [S(frame(PING, b"\xfe" * 126))], 1002)
    echo_case("2.6", "ping 125 B octet by octet", [S(frame(PING, b"\xfe" * 125), chop=1, gap=0.002)],
              [(PONG, b"\xfe" * 125)], timeout=15)
    echo_case("2.7", "unsolicited pong, empty", [S(frame(PONG)), SLEEP(0.2)], [])
    echo_case("2.8", "unsolicited pong with payload", [S(frame(PONG, b"unsolicited pong payload")), SLEEP(0.2)], [])
    echo_case("2.9", "unsolicited pong then ping", [S(frame(PONG, b"unsolicited")), S(frame(PING, b"ping payload"))],
              [(PONG, b"ping payload")])
    pings = [b"payload-%d" % i for i in range(10)]
    echo_case("2.10", "10 pings", [S(b"".join(frame(PING, x) for x in pings))], [(PONG, x) for x in pings])
    echo_case("2.11", "10 pings octet by octet", [S(b"".join(frame(PING, x) for x in pings), chop=1)],
              [(PONG, x) for x in pings], timeout=15)

    # ---- 3 reserved bits
    hello = b"Hello, world!"
    fail_case("3.1", "text with RSV3", [S(frame(TEXT, hello, rsv=RSV3))], 1002)
    fail_case("3.2", "text, text with RSV2, ping", [S(frame(TEXT, hello) + frame(TEXT, hello, rsv=RSV2) + frame(PING))],
              1002, [(TEXT, hello)])
    fail_case("3.3", "text, text with RSV2|RSV3, ping (frame-wise)",
              [S(frame(TEXT, hello)), S(frame(TEXT, hello, rsv=RSV2 | RSV3)), S(frame(PING))], 1002, [(TEXT, hello)])
    fail_case("3.4", "text, text with RSV1, ping (octet-wise)",
              [S(frame(TEXT, hello) + frame(TEXT, hello, rsv=RSV1) + frame(PING), chop=1)], 1002, [(TEXT, hello)])
    fail_case("3.5", "binary with RSV1|RSV3", [S(frame(BIN, b"\x00\xff" * 4, rsv=RSV1 | RSV3))], 1002)
    fail_case("3.6", "ping with RSV1|RSV2", [S(frame(PING, hello, rsv=RSV1 | RSV2))], 1002)
    fail_case("3.7", "close with all RSV bits", [S(frame(CLOSE, struct.pack("!H", 1000), rsv=RSV1 | RSV2 | RSV3))],
              1002)

    # ---- 4 opcodes
    for gi, ops in ((1, (3, 4, 5, 6, 7)), (2, (11, 12, 13, 14, 15))):
        o1, o2, o3, o4, o5 = ops
        fail_case("4.%d.1" % gi, "reserved opcode %d" % o1, [S(frame(o1))], 1002)
        fail_case("4.%d.2" % gi, "reserved opcode %d with payload" % o2, [S(frame(o2, b"reserved opcode payload"))],
                  1002)
        fail_case("4.%d.3" % gi, "text, opcode %d, ping" % o3, [S(frame(TEXT, hello) + frame(o3) + frame(PING))], 1002,
                  [(TEXT, hello)])
        fail_case("4.%d.4" % gi, "text, opcode %d with payload, ping" % o4,
                  [S(frame(TEXT, hello) + frame(o4, b"reserved") + frame(PING))], 1002, [(TEXT, hello)])
        fail_case("4.%d.5" % gi, "text, opcode %d, ping (octet-wise)" % o5,
                  [S(frame(TEXT, hello) + frame(o5, b"reserved") + frame(PING), chop=1)], 1002, [(TEXT, hello)])

    # ---- 5 fragmentation
    f1, f2 = b"fragment1", b"fragment2"
    fail_case("5.1", "fragmented ping", [S(frame(PING, f1, fin=False) + frame(CONT, f2))], 1002)
    fail_case("5.2", "fragmented pong", [S(frame(PONG, f1, fin=False) + frame(CONT, f2))], 1002)
    two = frame(TEXT, f1, fin=False) + frame(CONT, f2)
    echo_case("5.3", "text in 2 fragments", [S(two)], [(TEXT, f1 + f2)])
    echo_case("5.4", "text in 2 fragments, octet-wise", [S(two, chop=1)], [(TEXT, f1 + f2)])
    echo_case("5.5", "text in 2 fragments, 0.2 s apart",
              [S(frame(TEXT, f1, fin=False)), SLEEP(0.2), S(frame(CONT, f2))], [(TEXT, f1 + f2)])
    withping = frame(TEXT, f1, fin=False) + frame(PING, b"ping payload") + frame(CONT, f2)
    echo_case("5.6", "text fragment, ping, last fragment", [S(withping)], [(PONG, b"ping payload"), (TEXT, f1 + f2)])
    echo_case("5.7", "text fragment, ping, last fragment (octet-wise)", [S(withping, chop=1)],
              [(PONG, b"ping payload"), (TEXT, f1 + f2)])
    echo_case("5.8", "ping between fragments answered before the message completes (0.5 s gap)",
              [S(frame(TEXT, f1, fin=False) + frame(PING, b"ping payload")), SLEEP(0.5), S(frame(CONT, f2))],
              [(PONG, b"ping payload"), (TEXT, f1 + f2)])
    fail_case("5.9", "continuation (FIN=1) without a start", [S(frame(CONT, f1) + frame(TEXT, hello))], 1002)
    fail_case("5.10", "continuation (FIN=0) without a start", [S(frame(CONT, f1, fin=False) + frame(CONT, f2))], 1002)
    fail_case("5.11", "continuation without a start, octet-wise", [S(frame(CONT, f1) + frame(TEXT, hello), chop=1)],
              1002)
    fail_case("5.15", "2 fragments, then continuation(FIN=0), text(FIN=1)",
              [S(two + frame(CONT, b"fragment3", fin=False) + frame(TEXT, b"fragment4"))], 1002, [(TEXT, f1 + f2)])
    fail_case("5.18", "2nd fragment with opcode text", [S(frame(TEXT, f1, fin=False) + frame(TEXT, f2))], 1002)
    echo_case("5.19", "5 fragments with 1 s gap and 2 pings",
              [S(frame(TEXT, b"frag1", fin=False) + frame(CONT, b"frag2", fin=False) + frame(PING, b"pong1")),
               SLEEP(1.0),
               S(frame(CONT, b"frag3", fin=False) + frame(CONT, b"frag4", fin=False) + frame(PING, b"pong2")),
               SLEEP(0.2), S(frame(CONT, b"frag5"))],
              [(PONG, b"pong1"), (PONG, b"pong2"), (TEXT, b"frag1frag2frag3frag4frag5")])
    echo_case("5.20", "binary in 3 fragments with an empty middle one",
              [S(frame(BIN, b"\x01\x02", fin=False) + frame(CONT, b"", fin=False) + frame(CONT, b"\x03"))],
              [(BIN, b"\x01\x02\x03")])

    # ---- 6 UTF-8
    echo_case("6.1.1", "empty text", [S(frame(TEXT, b""))], [(TEXT, b"")])
    echo_case("6.1.2", "empty text in 3 empty fragments",
              [S(frame(TEXT, b"", fin=False) + frame(CONT, b"", fin=False) + frame(CONT, b""))], [(TEXT, b"")])
    echo_case("6.1.3", "text fragments '', 'middle', ''",
              [S(frame(TEXT, b"", fin=False) + frame(CONT, b"middle", fin=False) + frame(CONT, b""))],
              [(TEXT, b"middle")])
    u = "Hello-µ@ßöäüàá-UTF-8!!".encode()
    echo_case("6.2.1", "valid UTF-8, one frame", [S(frame(TEXT, u))], [(TEXT, u)])
    echo_case("6.2.2", "valid UTF-8, fragments split inside a code point",
              [S(frame(TEXT, u[:7], fin=False) + frame(CONT, u[7:]))], [(TEXT, u)])
    def one_byte_fragments(p):
        return b"".join(frame(TEXT if i == 0 else CONT, p[i:i + 1], fin=(i == len(p) - 1)) for i in range(len(p)))
    echo_case("6.2.3", "valid UTF-8, 1-byte fragments", [S(one_byte_fragments(u))], [(TEXT, u)])
    kosme = "κόσμε".encode()
    echo_case("6.2.4", "'κόσμε' in 1-byte fragments", [S(one_byte_fragments(kosme))], [(TEXT, kosme)])
    echo_case("6.3.1", "'κόσμε' octet-wise on the wire", [S(frame(TEXT, kosme), chop=1)], [(TEXT, kosme)])
    valid = [
        ("6.5.1", "U+0080 U+0800 U+10000 (first of each length)", "\u0080\u0800\U00010000"),
        ("6.5.2", "U+007F U+07FF U+FFFF U+10FFFF (last of each length)", "\u007f\u07ff\uffff\U0010ffff"),
        ("6.5.3", "U+D7FF U+E000 U+FFFD", "\ud7ff\ue000\ufffd"),
        ("6.5.4", "non-characters U+FFFE U+FFFF", "\ufffe\uffff"),
        ("6.5.5", "non-characters U+FDD0 U+1FFFF U+10FFFE", "\ufdd0\U0001ffff\U0010fffe"),
        ("6.5.6", "NUL and controls", "a\u0000b\u0001c\u001f"),
    ]
    for name, desc, s in valid:
        b = s.encode("utf-8", "surrogatepass")
        echo_case(name, "valid: " + desc, [S(frame(TEXT, b))], [(TEXT, b)])
    invalid = [
        ("6.6.1", "truncated 2-byte seq at message end", kosme + b"\xce"),
        ("6.6.2", "lone continuation byte 0x80", b"\x80"),
        ("6.6.3", "lone continuation 0xbf inside text", b"ab\xbfcd"),
        ("6.6.4", "start byte followed by space", b"\xe1 "),
        ("6.7.1", "overlong '/' C0 AF", b"\xc0\xaf"),
        ("6.7.2", "overlong '/' E0 80 AF", b"\xe0\x80\xaf"),
        ("6.7.3", "overlong '/' F0 80 80 AF", b"\xf0\x80\x80\xaf"),
        ("6.8.1", "surrogate U+D800 (ED A0 80)", b"\xed\xa0\x80"),
        ("6.8.2", "surrogate U+DFFF (ED BF BF)", b"\xed\xbf\xbf"),
        ("6.8.3", "surrogate pair ED A0 80 ED B0 80", b"\xed\xa0\x80\xed\xb0\x80"),
        ("6.9.1", "above U+10FFFF (F4 90 80 80)", b"\xf4\x90\x80\x80"),
        ("6.9.2", "5-byte form F8 88 80 80 80", b"\xf8\x88\x80\x80\x80"),
        ("6.9.3", "6-byte form FC 84 80 80 80 80", b"\xfc\x84\x80\x80\x80\x80"),
        ("6.9.4", "byte FE", b"\xfe"),
        ("6.9.5", "byte FF", b"\xff"),
    ]
    for name, desc, b in invalid:
        fail_case(name, "invalid: " + desc, [S(frame(TEXT, b))], 1007)
    fail_case("6.10.1", "invalid sequence split across fragments (F4 | 90 80 80)",
              [S(frame(TEXT, kosme + b"\xf4", fin=False) + frame(CONT, b"\x90\x80\x80"))], 1007)
    fail_case("6.10.2", "invalid byte in a middle fragment of valid ones",
              [S(frame(TEXT, b"abc", fin=False) + frame(CONT, b"d\xffe", fin=False) + frame(CONT, b"fgh"))], 1007)
    edited = b"edited"
    fail_case("6.4.1", "fail-fast: bad first fragment (FIN=0), 1 s before the rest",
              [S(frame(TEXT, kosme + b"\xed\xa0\x80" + edited, fin=False)), FAILFAST(1.0), S(frame(CONT, edited))],
              1007)
    fail_case("6.4.2", "fail-fast: F4 | 90 in two fragments, 1 s before the rest",
              [S(frame(TEXT, kosme + b"\xf4", fin=False) + frame(CONT, b"\x90", fin=False)), FAILFAST(1.0),
               S(frame(CONT, b"\x80\x80" + edited))], 1007)
    whole = frame(TEXT, kosme + b"\xf4\x90\x80\x80" + edited)
    cut = 2 + len(kosme)
    fail_case("6.4.3", "fail-fast: one frame, TCP chop after the bad bytes, 1 s before the rest",
              [S(whole[:cut + 4]), FAILFAST(1.0), S(whole[cut + 4:])], 1007)
    fail_case("6.4.4", "fail-fast: one frame, chops '..F4' | '90' | rest with 1 s waits",
              [S(whole[:cut + 1]), SLEEP(0.3), S(whole[cut + 1:cut + 2]), FAILFAST(1.0), S(whole[cut + 2:])], 1007)

    # ---- 7 close
    peer_close_case("7.1.1", "text then close", [S(frame(TEXT, hello)), S(close_frame(1000))], 1000, [(TEXT, hello)])
    peer_close_case("7.1.2", "two closes", [S(close_frame(1000) + close_frame(1000))], 1000)
    peer_close_case("7.1.3", "close then ping (no pong)", [S(close_frame(1000) + frame(PING, b"after close"))], 1000)
    peer_close_case("7.1.4", "close then text (ignored)", [S(close_frame(1000) + frame(TEXT, b"after close"))], 1000)
    peer_close_case("7.1.5", "fragment, close, last fragment (ignored)",
                    [S(frame(TEXT, f1, fin=False) + close_frame(1000) + frame(CONT, f2))], 1000)
    peer_close_case("7.3.1", "close with empty payload", [S(close_frame(None))], 1005)
    fail_case("7.3.2", "close with 1-byte payload", [S(close_frame(raw=b"\x03"))], 1002)
    peer_close_case("7.3.3", "close 1000, no reason", [S(close_frame(1000))], 1000)
    peer_close_case("7.3.4", "close 1000 with reason", [S(close_frame(1000, "Hello World!"))], 1000)
    peer_close_case("7.3.5", "close 1000 with 123-byte reason", [S(close_frame(1000, "*" * 123))], 1000)
    fail_case("7.3.6", "close with 124-byte reason (126-byte control frame)", [S(close_frame(1000, "*" * 124))], 1002)
    fail_case("7.5.1", "close reason with invalid UTF-8", [S(close_frame(1000, kosme + b"\xed\xa0\x80"))], 1007)
    for i, c in enumerate([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999], 1):
        peer_close_case("7.7.%d" % i, "valid close code %d" % c, [S(close_frame(c))], c)
    for i, c in enumerate([0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999], 1):
        fail_case("7.9.%d" % i, "invalid close code %d" % c, [S(close_frame(c))], 1002)

    # ---- 9 limits / performance (subset)
    big = 16 << 20
    echo_case("9.1.1", "text 64 KiB", [S(frame(TEXT, b"*" * 65536))], [(TEXT, b"*" * 65536)])
    echo_case("9.1.3", "text 1 MiB", [S(frame(TEXT, b"*" * (1 << 20)))], [(TEXT, b"*" * (1 << 20))])
    echo_case("9.1.6", "text 16 MiB", [S(frame(TEXT, b"*" * big))], [(TEXT, b"*" * big)], timeout=60)
    bb = bytes(range(256)) * (big // 256)
    echo_case("9.2.6", "binary 16 MiB", [S(frame(BIN, bb))], [(BIN, bb)], timeout=60)
    p = b"x" * (1 << 20)
    echo_case("9.3.1", "1 MiB text in 4 KiB fragments",
              [S(b"".join(frame(TEXT if i == 0 else CONT, p[i:i + 4096], fin=(i + 4096 >= len(p)))
                          for i in range(0, len(p), 4096)))], [(TEXT, p)], timeout=30)
    echo_case("9.5.6", "1 MiB text written in 2 KiB TCP chops", [S(frame(TEXT, p), chop=2048)], [(TEXT, p)],
              timeout=30)
    msgs = [(TEXT, ("message %04d " % i).encode() * 4) for i in range(1000)]
    add(Case("9.7.1", "1000 text messages, one at a time (wait for each echo)",
             [("seq", [frame(op, d) for op, d in msgs])], "echo", msgs, timeout=60))
    bmsgs = [(BIN, bytes([i % 256]) * 1024) for i in range(1000)]
    echo_case("9.8.1", "1000 binary messages of 1 KiB in one burst", [S(b"".join(frame(op, d) for op, d in bmsgs))],
              bmsgs, timeout=60)
    echo_case("10.1.1", "64 KiB text in 1300-byte fragments",
              [S(b"".join(frame(TEXT if i == 0 else CONT, b"*" * min(1300, 65536 - i), fin=(i + 1300 >= 65536))
                          for i in range(0, 65536, 1300)))], [(TEXT, b"*" * 65536)])

    # ---- extra: not in Autobahn's client suite
    fail_case("x.1", "masked server frame", [S(frame(TEXT, hello, mask=b"\x01\x02\x03\x04"))], 1002)
    fail_case("x.2", "64-bit length with the high bit set", [S(frame(BIN, b"", length=(1 << 63) + 5) + b"abcd")], 1002)
    fail_case("x.4", "close frame with code 1000 and 1-byte reason 0xFF", [S(close_frame(1000, b"\xff"))], 1007)
    fail_case("x.5", "close frame fragmented (FIN=0)", [S(frame(CLOSE, struct.pack("!H", 1000), fin=False))], 1002)


build_cases()

# ---------------------------------------------------------------------------------------------- verdicts

VERDICTS = {}   # name -> {"verdict", "detail"}
DONE = {}       # name -> asyncio.Event


def set_verdict(name, verdict, detail):
    VERDICTS[name] = {"verdict": verdict, "detail": detail}
    if name in DONE:
        DONE[name].set()
    if VERBOSE or verdict != "PASS":
        print("CASE %s %s %s" % (name, verdict, detail), file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- connection

class Conn:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.events = []            # complete client messages and control frames, in order (close excluded)
        self.close = None           # (code, reason) of the client's close frame
        self.close_time = None
        self.error = None           # protocol problem on the client side (unmasked frame, ...)
        self.eof = False
        self.cond = asyncio.Condition()

    async def _notify(self):
        async with self.cond:
            self.cond.notify_all()

    async def read_loop(self):
        frag_op, frag = None, []
        try:
            while True:
                fin, rsv, op, payload, masked = await read_frame(self.reader)
                if not masked:
                    self.error = "client sent an unmasked %s frame" % OPNAME.get(op, op)
                if rsv:
                    self.error = "client sent RSV bits 0x%x" % rsv
                if op == CLOSE:
                    code, reason = parse_close(payload)
                    self.close = (code, reason)
                    self.close_time = time.monotonic()
                    await self._notify()
                    return
                if op in (PING, PONG):
                    self.events.append((op, payload))
                elif op in (TEXT, BIN):
                    if fin:
                        self.events.append((op, payload))
                    else:
                        frag_op, frag = op, [payload]
                elif op == CONT and frag_op is not None:
                    frag.append(payload)
                    if fin:
                        self.events.append((frag_op, b"".join(frag)))
                        frag_op, frag = None, []
                else:
                    self.error = "client sent unexpected opcode %d" % op
                await self._notify()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, OSError) as e:
            if not isinstance(e, asyncio.IncompleteReadError):
                self.error = self.error or "read error: %r" % e
            self.eof = True
            await self._notify()

    async def wait_for(self, pred, timeout):
        deadline = time.monotonic() + timeout
        async with self.cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                try:
                    await asyncio.wait_for(self.cond.wait(), left)
                except asyncio.TimeoutError:
                    return pred()
        return True

    async def send(self, data, chop=None, gap=0.0):
        if self.eof or self.writer.is_closing():
            return
        try:
            if not chop:
                self.writer.write(data)
                await self.writer.drain()
                return
            for i in range(0, len(data), chop):
                if self.eof:
                    return
                self.writer.write(data[i:i + chop])
                await self.writer.drain()
                if gap:
                    await asyncio.sleep(gap)
                elif chop < 64:
                    await asyncio.sleep(0)
        except (ConnectionError, OSError):
            self.eof = True

    async def finish(self, reply_code=None):
        """Reply to the client's close (if any) and close TCP (server closes first, as RFC 6455 wants)."""
        if self.close is not None and reply_code is not None:
            await self.send(close_frame(reply_code))
        try:
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 2)
        except Exception:
            pass


def events_text(evs):
    return "[" + ", ".join(describe(e) for e in evs[:6]) + (", ... %d total" % len(evs) if len(evs) > 6 else "") + "]"


def compare_events(got, want):
    if got == want:
        return None
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return "client frame #%d: got %s, expected %s" % (i, describe(g), describe(w))
    if len(got) < len(want):
        return "client sent %d frames, expected %d; missing from %s" % (len(got), len(want), describe(want[len(got)]))
    return "client sent %d frames, expected %d; unexpected %s" % (len(got), len(want), describe(got[len(want)]))


async def run_case(case, conn):
    failfast_problem = None
    rd = asyncio.ensure_future(conn.read_loop())
    try:
        for step in case.steps:
            kind = step[0]
            if kind == "send":
                await conn.send(step[1], step[2], step[3])
            elif kind == "sleep":
                await asyncio.sleep(step[1])
            elif kind == "failfast":
                t0 = time.monotonic()
                ok = await conn.wait_for(lambda: conn.close is not None or conn.eof, step[1])
                if not ok:
                    failfast_problem = "NON-STRICT: no close within %.1f s of the invalid bytes" % step[1]
                else:
                    log("failfast close after %.3f s" % (time.monotonic() - t0))
            elif kind == "seq":
                for i, data in enumerate(step[1]):
                    await conn.send(data)
                    if not await conn.wait_for(lambda: len(conn.events) > i or conn.close or conn.eof, 5.0):
                        break
                    if conn.close or conn.eof:
                        break

        problems = []
        if case.expect == "echo":
            await conn.wait_for(lambda: len(conn.events) >= len(case.events) or conn.close or conn.eof, case.timeout)
            if conn.close is not None:
                problems.append("client closed first with %s %r" % conn.close)
                await conn.finish(1000)
            elif conn.eof:
                problems.append("client dropped TCP without a close frame")
            else:
                await asyncio.sleep(0.05)  # let stray extra frames arrive
                await conn.send(close_frame(1000))
                if not await conn.wait_for(lambda: conn.close is not None or conn.eof, 3.0):
                    problems.append("no close reply within 3 s")
                elif conn.close is None:
                    problems.append("client dropped TCP instead of replying to the close")
                elif conn.close[0] != 1000:
                    problems.append("close reply code %s, expected 1000" % conn.close[0])
                await conn.finish(None)
        elif case.expect == "peer_close":
            if not await conn.wait_for(lambda: conn.close is not None or conn.eof, case.timeout):
                problems.append("no close reply within %.0f s" % case.timeout)
            elif conn.close is None:
                problems.append("client dropped TCP instead of replying to the close")
            else:
                got = conn.close[0]
                ok = {case.code, 1000} if case.code != 1005 else {None, 1000}
                if got not in ok:
                    problems.append("close reply code %s, expected %s" % (got, " or ".join(str(c) for c in ok)))
            await conn.finish(None)
        else:  # the client must fail the connection with this code
            want = case.expect
            if not await conn.wait_for(lambda: conn.close is not None or conn.eof, case.timeout):
                problems.append("client did not close within %.0f s (expected close %d)" % (case.timeout, want))
            elif conn.close is None:
                problems.append("client dropped TCP without a close frame (expected close %d)" % want)
            elif conn.close[0] != want:
                problems.append("client closed with %s %r, expected %d" % (conn.close[0], conn.close[1][:60], want))
            if failfast_problem:
                problems.append(failfast_problem)
            await conn.finish(want if conn.close is not None else None)
        diff = compare_events(conn.events, case.events)
        if diff:
            problems.append(diff)
        if conn.error:
            problems.append(conn.error)
        if problems:
            set_verdict(case.name, "FAIL", "; ".join(problems))
        else:
            how = "echo ok, close 1000" if case.expect == "echo" else (
                "client replied to close %s with %s" % (case.code, conn.close[0]) if case.expect == "peer_close"
                else "client failed with %s %r" % (conn.close[0], conn.close[1][:60]))
            set_verdict(case.name, "PASS", how)
    finally:
        rd.cancel()


# ---------------------------------------------------------------------------------------------- HTTP side

def http_response(status, reason, headers=(), body=b""):
    lines = ["HTTP/1.1 %d %s" % (status, reason)] + ["%s: %s" % h for h in headers]
    if body or status != 101:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


async def echo_loop(conn):
    """Echo messages (same opcode), pong pings, reply to close, then close TCP."""
    frag_op, frag = None, []
    try:
        while True:
            fin, rsv, op, payload, masked = await asyncio.wait_for(read_frame(conn.reader), 600)
            if op == PING:
                await conn.send(frame(PONG, payload))
            elif op == PONG:
                pass
            elif op == CLOSE:
                code, _ = parse_close(payload)
                await conn.send(close_frame(code if code is not None else None))
                break
            elif op in (TEXT, BIN):
                if fin:
                    await conn.send(frame(op, payload))
                else:
                    frag_op, frag = op, [payload]
            elif op == CONT and frag_op is not None:
                frag.append(payload)
                if fin:
                    await conn.send(frame(frag_op, b"".join(frag)))
                    frag_op, frag = None, []
    except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, OSError, ValueError):
        pass
    await conn.finish(None)


async def send_one_and_close(conn, text):
    await conn.send(frame(TEXT, text.encode()) + close_frame(1000))
    rd = asyncio.ensure_future(conn.read_loop())
    await conn.wait_for(lambda: conn.close is not None or conn.eof, 3.0)
    rd.cancel()
    await conn.finish(None)


async def handle(reader, writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
    conn = Conn(reader, writer)
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    except Exception:
        await conn.finish(None)
        return
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _ = lines[0].split(" ", 2)
    except ValueError:
        writer.write(http_response(400, "Bad Request"))
        await conn.finish(None)
        return
    hdrs = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    path = target.split("?", 1)[0]
    log("request", method, target)
    key = hdrs.get("sec-websocket-key", "")
    if method != "GET" or "websocket" not in hdrs.get("upgrade", "").lower() or not key \
            or hdrs.get("sec-websocket-version") != "13":
        await conn.send(http_response(400, "Bad Request", [("Content-Type", "text/plain")],
                                      b"not a WebSocket upgrade request\n"))
        await conn.finish(None)
        return
    accept = accept_for(key)
    ok_headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept)]
    ok = http_response(101, "Switching Protocols", ok_headers)

    if path.startswith("/handshake/"):
        what = path[len("/handshake/"):]
        if what == "503":
            await conn.send(http_response(503, "Service Unavailable",
                                          [("Retry-After", "7"), ("Content-Type", "text/plain")],
                                          b"maintenance: back in a moment\n"))
        elif what == "429":
            await conn.send(http_response(429, "Too Many Requests",
                                          [("Retry-After", "3"), ("Content-Type", "text/plain")],
                                          b"rate limited\n"))
        elif what == "bad_accept":
            await conn.send(http_response(101, "Switching Protocols",
                                          [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                           ("Sec-WebSocket-Accept", accept_for("dGhlIHNhbXBsZSBub25jZQ=="))]))
        elif what == "no_upgrade":
            await conn.send(http_response(101, "Switching Protocols",
                                          [("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept)]))
        elif what == "no_connection":
            await conn.send(http_response(101, "Switching Protocols",
                                          [("Upgrade", "websocket"), ("Sec-WebSocket-Accept", accept)]))
        elif what == "never_101":
            try:  # never answer; hold the socket until the client gives up (bounded)
                await asyncio.wait_for(reader.read(1), 60)
            except Exception:
                pass
        elif what == "extension":
            await conn.send(http_response(101, "Switching Protocols",
                                          ok_headers + [("Sec-WebSocket-Extensions", "permessage-deflate")]))
            await echo_loop(conn)
            return
        elif what == "subprotocol":
            await conn.send(http_response(101, "Switching Protocols", ok_headers + [("Sec-WebSocket-Protocol", "chat2")]))
            await echo_loop(conn)
            return
        elif what == "piggyback":
            await conn.send(ok + frame(TEXT, b"hello"))
            await echo_loop(conn)
            return
        else:
            await conn.send(http_response(404, "Not Found", [], b"unknown handshake path\n"))
        await conn.finish(None)
        return

    if path == "/echo":
        await conn.send(ok)
        await echo_loop(conn)
        return
    if path == "/cases":
        await conn.send(ok)
        await send_one_and_close(conn, json.dumps([c.entry() for c in CASES.values()]))
        return
    if path.startswith("/verdict/"):
        name = path[len("/verdict/"):]
        await conn.send(ok)
        v = VERDICTS.get(name)
        if v is not None and v["verdict"] == "PENDING":
            try:
                await asyncio.wait_for(DONE[name].wait(), 5)
            except asyncio.TimeoutError:
                pass
            v = VERDICTS.get(name)
        if v is None:
            v = {"verdict": "PENDING", "detail": "case not run" if name in CASES else "unknown case"}
        await send_one_and_close(conn, json.dumps({"case": name, **v}))
        return
    if path.startswith("/case/"):
        name = path[len("/case/"):]
        case = CASES.get(name)
        if case is None:
            await conn.send(http_response(404, "Not Found", [], b"unknown case\n"))
            await conn.finish(None)
            return
        VERDICTS[name] = {"verdict": "PENDING", "detail": "running"}
        DONE[name] = asyncio.Event()
        await conn.send(ok)
        try:
            await run_case(case, conn)
        except Exception as e:  # never leave a case PENDING
            set_verdict(name, "FAIL", "server error: %r" % e)
            await conn.finish(None)
        return
    await conn.send(http_response(404, "Not Found", [], b"unknown path\n"))
    await conn.finish(None)


async def main():
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--list", action="store_true", help="print the case list as JSON and exit")
    ap.add_argument("--list-lines", action="store_true",
                    help="print the case list as lines 'name<TAB>expect<TAB>code<TAB>timeout<TAB>desc' and exit")
    a = ap.parse_args()
    VERBOSE = a.verbose
    if a.list_lines:
        for c in CASES.values():
            print("%s\t%s\t%s\t%d\t%s" % (c.name, c.expect, c.code if c.code is not None else 0, int(c.timeout),
                                           c.desc))
        return
    if a.list:
        print(json.dumps([c.entry() for c in CASES.values()], indent=1))
        return
    ctx = None
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
    server = await asyncio.start_server(handle, "127.0.0.1", a.port, ssl=ctx, limit=1 << 16)
    port = server.sockets[0].getsockname()[1]
    watch_stdin()
    print("READY %d" % port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
