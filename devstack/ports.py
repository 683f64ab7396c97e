"""Loopback ports for servers a test or a private stack starts: free now, and out of the way of the ports the kernel
hands to outgoing connections, so nothing takes them between the choice and the server's bind."""

import random
import socket

LOOPBACK = "127.0.0.1"
FREE_PORT_RANGE = range(20000, 32000)
"""Where `free_ports` looks: below the kernel's ephemeral ports (32768 up by default, see
/proc/sys/net/ipv4/ip_local_port_range), which every outgoing connection takes one of: a port picked there (as
binding port 0 does) can be a client's source port by the time a server binds it, which a busy cluster's hundreds of
connections make likely. Below 32768 also because Temporal keeps a membership port in a smallint column
(cluster_membership.rpc_port)."""


_handed_out: set[int] = set()
"""Ports this process chose already: the next choice skips them, so two choices made before either server binds
(a stack's API and worker ports) never coincide. Forgotten when the range runs short."""


class NoFreePorts(RuntimeError):
    """FREE_PORT_RANGE has too few free ports left."""


def free_ports(count: int, *, consecutive: bool = False) -> list[int]:
    """`count` distinct loopback ports free at this moment, from a random place in FREE_PORT_RANGE (so two test
    sessions rarely race for the same ones), none this process chose before; all are held open together until
    chosen.

    Args:
        count: How many.
        consecutive: A run of `count` neighbours (worker N takes a setting's port + N - 1).
    """
    if len(_handed_out) > len(FREE_PORT_RANGE) // 2:
        _handed_out.clear()
    first = random.randrange(len(FREE_PORT_RANGE))
    candidates = [*FREE_PORT_RANGE[first:], *FREE_PORT_RANGE[:first]]
    held: list[socket.socket] = []
    try:
        for port in candidates:
            if consecutive and held and port != held[-1].getsockname()[1] + 1:
                for sock in held:
                    sock.close()
                held = []
            if port in _handed_out:
                continue
            sock = socket.socket()
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                sock.close()
                continue
            held.append(sock)
            if len(held) == count:
                chosen = [sock.getsockname()[1] for sock in held]
                _handed_out.update(chosen)
                return chosen
        raise NoFreePorts(f"fewer than {count} free ports on {LOOPBACK} between {FREE_PORT_RANGE.start} and "
                          f"{FREE_PORT_RANGE.stop}")
    finally:
        for sock in held:
            sock.close()


def free_port() -> int:
    """One loopback port free at this moment (`free_ports`)."""
    return free_ports(1)[0]


def free_port_run(length: int) -> int:
    """The first of `length` consecutive free loopback ports."""
    return free_ports(length, consecutive=True)[0]
