"""A TCP proxy in front of the upstream's token endpoint that can refuse or black-hole connections."""
from __future__ import annotations

import socket
import struct
import threading
import time

PASS, REFUSE, BLACKHOLE = "pass", "refuse", "blackhole"


class FaultProxy:
    """Listens on 127.0.0.1:`port` and forwards to 127.0.0.1:`target_port`.

    Modes: `pass` (forward both ways); `refuse` (the listener is closed: connection refused, and the
    connections already open are closed, so a client's kept-alive connection cannot carry on);
    `blackhole` (accepts and reads, never answers; a kept-alive connection forwards no new request either;
    leaving the mode closes all those connections, as a network coming back would reset them).

    An exchange already under way when a mode starts is let finish (its answer is forwarded, then a
    `refuse` closes the connection): cutting an answer the upstream has already sent would test the
    unavoidable window of a rotating upstream (a used refresh token whose successor never arrived), not
    an outage. (Seen with a cut answer: the next refresh gets `invalid_grant`.)"""

    def __init__(self, target_port: int, port: int):
        self.target_port = target_port
        self.port = port
        self.mode = PASS
        self.connections = 0
        self.accepted_at: list[float] = []  # time.monotonic() of every accepted connection
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._held: list[socket.socket] = []
        self._forwarded: set[_Pair] = set()
        self._closed = False

    def start(self) -> "FaultProxy":
        self._open_listener()
        return self

    def set_mode(self, mode: str) -> None:
        with self._lock:
            previous, self.mode = self.mode, mode
        if previous == mode:
            return
        if mode == REFUSE:
            self._close_listener()
            self._close_forwarded()
        elif previous == REFUSE:
            self._open_listener()
        if previous == BLACKHOLE:
            self._reset_held()
            self._close_forwarded()

    def stop(self) -> None:
        self._closed = True
        self._close_listener()
        self._reset_held()

    def _close_forwarded(self) -> None:
        """Closes the forwarded connections that have no exchange under way (the others close after it)."""
        with self._lock:
            pairs = [p for p in self._forwarded if not p.exchange_open]
        for pair in pairs:
            pair.close()

    def _reset_held(self) -> None:
        """Wakes the black-holed connections' readers, which then close them with a reset."""
        with self._lock:
            held, self._held = self._held, []
        for s in held:
            try:
                s.shutdown(socket.SHUT_RD)
            except OSError:
                pass

    # listener

    def _open_listener(self) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(128)
        with self._lock:
            self._listener = s
        threading.Thread(target=self._accept_loop, args=(s,), name="faultproxy-accept", daemon=True).start()

    def _close_listener(self) -> None:
        with self._lock:
            s, self._listener = self._listener, None
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._closed:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed (refuse mode or stop)
            with self._lock:
                self.connections += 1
                self.accepted_at.append(time.monotonic())
                mode = self.mode
                if mode == BLACKHOLE:
                    self._held.append(client)
            if mode == BLACKHOLE:
                threading.Thread(target=_drain, args=(client,), daemon=True).start()
            elif mode == PASS:
                threading.Thread(target=self._forward, args=(client,), daemon=True).start()
            else:
                _close(client, reset=True)

    def _forward(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            upstream.settimeout(None)
        except OSError:
            _close(client, reset=True)
            return
        pair = _Pair(client, upstream)
        with self._lock:
            self._forwarded.add(pair)
        back = threading.Thread(target=self._answers, args=(pair,), daemon=True)
        back.start()
        self._requests(pair)
        back.join()
        with self._lock:
            self._forwarded.discard(pair)
        _close(client, reset=False)
        _close(upstream, reset=False)

    def _requests(self, pair: "_Pair") -> None:
        """Client to upstream: a new request passes only in `pass` mode (it is dropped otherwise)."""
        try:
            while True:
                data = pair.client.recv(65536)
                if not data:
                    break
                with self._lock:
                    forward = self.mode == PASS or pair.exchange_open
                    pair.exchange_open = forward
                if forward:
                    pair.upstream.sendall(data)
        except OSError:
            pass
        finally:
            pair.close()

    def _answers(self, pair: "_Pair") -> None:
        """Upstream to client: always forwarded; after an answer, a `refuse` closes the connection. When the
        upstream closes a connection during a black hole (say, idle after a dropped request), the close does
        not reach the client either: the connection is held until the mode ends."""
        held = False
        try:
            while True:
                data = pair.upstream.recv(65536)
                if not data:
                    with self._lock:
                        held = self.mode == BLACKHOLE
                        if held:
                            self._held.append(pair.client)
                    break
                pair.client.sendall(data)
                with self._lock:
                    pair.exchange_open = False
                    closing = self.mode == REFUSE
                if closing:
                    break
        except OSError:
            pass
        finally:
            if not held:
                pair.close()


class _Pair:
    """A forwarded connection: `exchange_open` from a request forwarded until its answer came back
    (the token endpoint's answers are small: one read)."""

    def __init__(self, client: socket.socket, upstream: socket.socket):
        self.client = client
        self.upstream = upstream
        self.exchange_open = False

    def close(self) -> None:
        for s in (self.client, self.upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _drain(s: socket.socket) -> None:
    """Reads and discards until the peer closes or `_reset_held` wakes it, then resets the connection."""
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass
    _close(s, reset=True)


def _close(s: socket.socket, reset: bool) -> None:
    try:
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    except OSError:
        pass
