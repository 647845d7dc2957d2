"""A TCP relay that models network distance for benchmarks: every byte is delivered ``delay`` seconds after it
arrived, in both directions (so a round trip costs 2 x delay), order kept. A child process, so its work does not
compete with the measured code for the interpreter; stopped by PID. (UDP for DNS: ``tests.rig.bind.DelayRelay``.)
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


class TcpDelayRelay:
    """Listens on 127.0.0.1:``port`` and forwards each connection to ``target`` with ``delay`` seconds each way."""

    def __init__(self, target: tuple[str, int], delay: float):
        self.target, self.delay = target, delay
        self.process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from tests.rig.latency import main; main(sys.argv[1:])",
             target[0], str(target[1]), str(delay)],
            cwd=Path(__file__).resolve().parent.parent.parent, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        line = self.process.stdout.readline().split()
        if len(line) != 2 or line[0] != b"ready":
            self.stop()
            raise RuntimeError(f"the TCP relay to {target} did not start")
        self.port = int(line[1])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def main(argv: list[str]) -> None:
    """The relay process: ``TARGET_HOST TARGET_PORT DELAY``; prints "ready PORT" once listening."""
    import asyncio

    target, delay = (argv[0], int(argv[1])), float(argv[2])

    async def pump(reader, writer) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    try:
                        writer.write_eof()
                    except OSError:
                        pass
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while data := await reader.read(65536):
                queue.put_nowait((loop.time() + delay, data))
        except OSError:
            pass
        queue.put_nowait((loop.time() + delay, None))
        try:
            await sender
        except OSError:
            pass

    async def handle(client_reader, client_writer) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*target)
        except OSError:
            client_writer.close()
            return
        client_writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        server_writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(pump(client_reader, server_writer), pump(server_reader, client_writer),
                             return_exceptions=True)
        for writer in (client_writer, server_writer):
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        print("ready", server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())
