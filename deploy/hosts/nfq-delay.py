#!/usr/bin/env python3
"""Delay, jitter and reordering for the test hosts on a kernel without netem (deploy/hosts/faults.ts).

Runs inside one host's network namespace, bound to an NFQUEUE queue that the host's iptables
rule (chain SKVH_DELAY of its OUTPUT) feeds with the packets it sends to the chosen hosts. The
kernel holds every queued packet; this program only decides when to let each go: after
--delay-ms plus a uniform draw in [-jitter, +jitter] (packets overtake each other when the
jitter exceeds their spacing: reordering), or at once for a --reorder-pct share of them (netem's
reorder: those jump the queue). Only metadata is copied to userspace, never payloads. The rule
uses --queue-bypass, so if this program is gone, packets pass undelayed.

Plain netlink (nfnetlink_queue), standard library only. Exits on SIGTERM; `down` kills it with
everything else in the namespace.
"""
import argparse
import heapq
import os
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN = 1, 2, 3
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NF_ACCEPT = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2


def attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def message(msg, queue, attrs, flags=NLM_F_REQUEST):
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg, flags, 0, 0) + body


def check_ack(sock, what):
    data = sock.recv(65536)
    length, kind = struct.unpack_from("=IH", data, 0)
    if kind == NLMSG_ERROR:
        (err,) = struct.unpack_from("=i", data, 16)
        if err != 0:
            sys.exit(f"nfq-delay: {what} failed: {os.strerror(-err)}")


def packet_ids(data):
    """The packet ids of the NFQNL_MSG_PACKET messages in one netlink datagram."""
    off = 0
    while off + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, off)
        if length < 16:
            break
        if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            a = off + 20
            while a + 4 <= off + length:
                alen, akind = struct.unpack_from("=HH", data, a)
                if alen < 4:
                    break
                if akind & 0x3FFF == NFQA_PACKET_HDR:  # without NLA_F_NESTED and NLA_F_NET_BYTEORDER
                    yield struct.unpack_from("!I", data, a + 4)[0]
                a += (alen + 3) & ~3
        off += (length + 3) & ~3


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--queue", type=int, required=True)
    p.add_argument("--delay-ms", type=float, required=True)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--reorder-pct", type=float, default=0.0)
    a = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind((0, 0))
    sock.send(message(NFQNL_MSG_CONFIG, a.queue, [attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0))], NLM_F_REQUEST | NLM_F_ACK))
    check_ack(sock, f"binding queue {a.queue}")
    sock.send(message(NFQNL_MSG_CONFIG, a.queue, [
        attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META)),
        attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", 65536)),
    ], NLM_F_REQUEST | NLM_F_ACK))
    check_ack(sock, "setting the copy mode")
    print(f"nfq-delay: queue {a.queue}: delay {a.delay_ms} ms, jitter {a.jitter_ms} ms, reorder {a.reorder_pct}%", flush=True)
    # The line above tells the harness it is ready; it then closes the pipe, so nothing more goes to it.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)

    due = []  # (monotonic release time, packet id)
    verdict = lambda pid: sock.send(message(NFQNL_MSG_VERDICT, a.queue, [attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, pid))]))
    while True:
        now = time.monotonic()
        while due and due[0][0] <= now:
            verdict(heapq.heappop(due)[1])
        timeout = max(0.0, due[0][0] - now) if due else None
        ready, _, _ = select.select([sock], [], [], timeout)
        if not ready:
            continue
        try:
            data = sock.recv(1 << 20)
        except OSError:  # ENOBUFS: notifications lost; those packets wait until the queue is unbound (then dropped; TCP resends)
            continue
        now = time.monotonic()
        for pid in packet_ids(data):
            if a.reorder_pct and random.random() * 100 < a.reorder_pct:
                verdict(pid)
                continue
            ms = max(0.0, a.delay_ms + random.uniform(-a.jitter_ms, a.jitter_ms))
            heapq.heappush(due, (now + ms / 1000, pid))


if __name__ == "__main__":
    main()
