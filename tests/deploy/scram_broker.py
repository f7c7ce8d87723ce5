"""A real local KRaft broker with a SASL listener too (SCRAM-SHA-512, PLAIN), for secret tests.

The project's `LocalBroker` with one more listener: the SCRAM user is created when the storage is
formatted (`kafka-storage format --add-scram`), as a KRaft cluster does it.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from streams.broker import BrokerError, LocalBroker, free_port

MECHANISM = "SCRAM-SHA-512"


class ScramBroker(LocalBroker):
    """`bootstrap_servers` of `start()` stays PLAINTEXT; `sasl_bootstrap` needs the user."""

    def __init__(self, home: Path, state_dir: Path, username: str, password: str) -> None:
        super().__init__(home, state_dir=state_dir)
        self.username = username
        self.password = password
        self.sasl_port = free_port()

    @property
    def sasl_bootstrap(self) -> str:
        return f"127.0.0.1:{self.sasl_port}"

    def _write_properties(self, data_dir: Path, broker_port: int, controller_port: int) -> Path:
        path = super()._write_properties(data_dir, broker_port, controller_port)
        lines = dict(line.split("=", 1) for line in path.read_text().splitlines() if line)
        lines["listeners"] += f",SASL://127.0.0.1:{self.sasl_port}"
        lines["advertised.listeners"] += f",SASL://127.0.0.1:{self.sasl_port}"
        lines["listener.security.protocol.map"] += ",SASL:SASL_PLAINTEXT"
        lines["sasl.enabled.mechanisms"] = f"{MECHANISM},PLAIN"
        lines[f"listener.name.sasl.{MECHANISM.lower()}.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        )
        # PLAIN sends the password itself (inside TLS in production): the harder case for logs
        lines["listener.name.sasl.plain.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'user_{self.username}="{self.password}";'
        )
        path.write_text("".join(f"{key}={value}\n" for key, value in lines.items()))
        return path

    def _format_storage(self, libs: Path, properties: Path) -> None:
        cluster_id = "-"
        while cluster_id.startswith("-"):
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        user = f"{MECHANISM}=[name={self.username},password={self.password}]"
        command = [
            *self._java(libs, properties, 256),
            "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(properties),
            "--add-scram", user,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BrokerError(f"formatting KRaft storage failed: {result.stderr.strip()[-400:]}")
