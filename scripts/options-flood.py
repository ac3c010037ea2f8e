#!/usr/bin/env python3
"""Closed-loop OPTIONS generator: keeps WINDOW transactions outstanding
against one SIP server for SECONDS and prints how many 200s came back per
second. Faster than sipp on one core, so a single shard can be driven to
saturation. Usage: options-flood.py HOST:PORT [SECONDS] [WINDOW]"""
import os, select, socket, sys, time

target = sys.argv[1].rsplit(":", 1)
dest = (target[0], int(target[1]))
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
window = int(sys.argv[3]) if len(sys.argv) > 3 else 500

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
sock.bind(("127.0.0.1", 0))
sock.setblocking(False)
lip, lport = sock.getsockname()
tag = os.getpid()

def options(n):
    return (
        f"OPTIONS sip:{dest[0]}:{dest[1]} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {lip}:{lport};branch=z9hG4bK-{tag}-{n};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:flood@{lip}:{lport}>;tag={tag}x{n}\r\n"
        f"To: <sip:{dest[0]}:{dest[1]}>\r\n"
        f"Call-ID: {tag}-{n}@flood\r\n"
        "CSeq: 1 OPTIONS\r\n"
        f"Contact: <sip:flood@{lip}:{lport}>\r\n"
        "Accept: application/sdp\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()

sent = answered = other = 0
outstanding = 0
start = time.monotonic()
deadline = start + seconds
last_progress = start
while True:
    now = time.monotonic()
    if now >= deadline:
        break
    while outstanding < window:
        try:
            sock.sendto(options(sent), dest)
        except BlockingIOError:
            break
        sent += 1
        outstanding += 1
    r, _, _ = select.select([sock], [], [], 0.2)
    if not r:
        # Lost datagrams: give their window slots back after a quiet spell.
        if now - last_progress > 0.5:
            outstanding = 0
        continue
    while True:
        try:
            data = sock.recv(65535)
        except BlockingIOError:
            break
        last_progress = now
        outstanding = max(0, outstanding - 1)
        if data.startswith(b"SIP/2.0 200"):
            answered += 1
        else:
            other += 1
elapsed = time.monotonic() - start
print(f"sent={sent} answered_200={answered} other={other} seconds={elapsed:.2f} "
      f"answered_per_second={answered / elapsed:.0f}")
