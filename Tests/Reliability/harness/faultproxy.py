"""A TCP proxy in front of the upstream's token endpoint that can refuse or black-hole connections."""
from __future__ import annotations

import socket
import struct
import threading

PASS, REFUSE, BLACKHOLE = "pass", "refuse", "blackhole"


class FaultProxy:
    """Listens on 127.0.0.1:`port` and forwards to 127.0.0.1:`target_port`.

    Modes: `pass` (forward both ways); `refuse` (the listener is closed: connection refused);
    `blackhole` (accepts and reads, never answers; leaving the mode closes the held connections, as a
    network coming back would reset them)."""

    def __init__(self, target_port: int, port: int):
        self.target_port = target_port
        self.port = port
        self.mode = PASS
        self.connections = 0
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._held: list[socket.socket] = []
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
        elif previous == REFUSE:
            self._open_listener()
        if previous == BLACKHOLE:
            self._reset_held()

    def stop(self) -> None:
        self._closed = True
        self._close_listener()
        self._reset_held()

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
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
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
