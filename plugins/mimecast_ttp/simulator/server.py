"""Running the simulator app under uvicorn in a background thread, for tests, demos and the CLI.

The listening socket is bound before the thread starts, so ``port=0`` yields a free port known at
once, and ``start()`` returns only after uvicorn is accepting connections.
"""

from __future__ import annotations

import asyncio
import socket
import threading

import uvicorn

from mimecast_ttp.simulator.app import create_app
from mimecast_ttp.simulator.config import SimulatorConfig
from mimecast_ttp.simulator.faults import Faults
from mimecast_ttp.simulator.stats import SimulatorStats


class _PromptServer(uvicorn.Server):
    """uvicorn's server, woken at once by ``request_exit`` instead of at its next 0.1 s poll.

    Tests start and stop a server per test; the poll would add a tenth of a second to each.
    """

    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):  # on_tick refreshes the Date header and checks should_exit
            counter = (counter + 1) % 864000
            try:
                await asyncio.wait_for(self._wake.wait(), 0.1)
            except TimeoutError:
                pass

    def request_exit(self) -> None:
        self.should_exit = True
        if self._loop is not None and self._wake is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # the loop closed meanwhile: it has exited already
                pass


class SimulatorServer:
    """A Mimecast API simulator on ``host:port`` (``port=0``: any free port), in a background thread."""

    def __init__(self, config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SimulatorConfig()
        self.faults = Faults()
        self.stats = SimulatorStats()
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self._server: _PromptServer | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the simulator is not started; call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 15.0) -> SimulatorServer:
        if self._thread is not None:
            raise RuntimeError("the simulator is already running")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError as err:
            sock.close()
            raise OSError(f"simulator cannot listen on {self.host}:{self._requested_port}: {err}") from err
        sock.listen(256)
        self._socket = sock
        self.port = sock.getsockname()[1]
        app = create_app(self.config, self.faults, self.stats)
        uv_config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                   timeout_graceful_shutdown=2)
        self._server = _PromptServer(uv_config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"mimecast-simulator-{self.port}", daemon=True)
        self._thread.start()
        self._thread.join(0)
        ready = threading.Event()
        while not ready.wait(0.01):
            if self._server.started:
                break
            if not self._thread.is_alive():
                self._cleanup()
                raise RuntimeError("the simulator's server thread exited during start-up")
            timeout -= 0.01
            if timeout <= 0:
                self.stop()
                raise TimeoutError("the simulator did not start accepting connections in time")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.request_exit()
        if self._thread is not None:
            self._thread.join(10)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> SimulatorServer:
        return self if self._thread is not None else self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
