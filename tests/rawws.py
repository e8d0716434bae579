"""A bare WebSocket client over a plain socket, for tests that need what a
library hides: a client that stops reading (a library keeps reading into its
own queue), with a small receive buffer so that the server's side fills."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct


class RawSocket:
    def __init__(self, port: int, path: str, cookie: str, *, rcvbuf: int = 4096) -> None:
        self.sock = socket.socket()
        # Before connect: the window the client advertises stays small.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://127.0.0.1:{port}\r\nCookie: {cookie}\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.decode(errors="replace"))

    def send_json(self, frame: dict) -> None:
        payload = json.dumps(frame).encode()
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x81, 0x80 | length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, length)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _need(self, count: int) -> None:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buffer += chunk

    def receive(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next frame (server frames are unmasked)."""
        self._need(2)
        opcode, length = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
        start = 2
        if length == 126:
            self._need(4)
            length, start = struct.unpack("!H", self.buffer[2:4])[0], 4
        elif length == 127:
            self._need(10)
            length, start = struct.unpack("!Q", self.buffer[2:10])[0], 10
        self._need(start + length)
        payload = self.buffer[start : start + length]
        self.buffer = self.buffer[start + length :]
        return opcode, payload

    def read_to_end(self, timeout: float) -> tuple[int, int | None]:
        """Read everything until the server ends the connection: (bytes of
        text frames read, close code or None when the connection was dropped
        without a close frame)."""
        self.sock.settimeout(timeout)
        total = 0
        try:
            while True:
                opcode, payload = self.receive()
                if opcode == 0x8:
                    return total, struct.unpack("!H", payload[:2])[0] if payload else None
                total += len(payload)
        except (EOFError, ConnectionResetError):
            return total, None

    def close(self) -> None:
        self.sock.close()
