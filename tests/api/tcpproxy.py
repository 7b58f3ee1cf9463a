"""A TCP forwarder to the test PostgreSQL that a test can cut and restore: while it is down,
connecting is refused and every connection made through it has been reset, as when the
database server stops; brought up again on the same port, the database is back."""

from __future__ import annotations

import socket
import threading


class TcpProxy:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        with socket.socket() as s:  # a free port, kept across down() and up()
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def up(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: same port
        self._accepting = threading.Thread(target=self._accept, args=(self._listener,), daemon=True)
        self._accepting.start()

    def down(self) -> None:
        """Refuse new connections and reset the open ones, both ways."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
            # The port is free only once the thread polling the listener has let go of it.
            self._accepting.join()
        with self._lock:
            sockets, self._open = self._open, set()
        for s in sockets:
            _close(s)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    def _accept(self, listener: socket.socket) -> None:
        listener.settimeout(0.1)  # closing a socket does not wake a thread blocked in accept()
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._open |= {client, upstream}
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with self._lock:
                self._open.discard(s)
            _close(s)


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv() on it; close() alone does not
    except OSError:
        pass
    s.close()
