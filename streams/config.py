"""Typed settings, read once from the environment (the only module that reads it).

Every variable and its default is listed in `ENVIRONMENT` and in the README.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from streams.core.exceptions import ConfigFileError
from streams.core.pipeline_config import PipelineConfig
from streams.exceptions import StreamsError

__all__ = [
    "ENVIRONMENT",
    "TOOLING_ENVIRONMENT",
    "ConfigurationError",
    "Secret",
    "Settings",
    "Topics",
    "load_pipeline_config",
    "render_pipeline_config",
    "shared_long_books",
    "shared_recordings",
]

ENVIRONMENT: dict[str, str] = {
    "KAFKA_BOOTSTRAP_SERVERS": "unset: the local KRaft broker of `streams broker start`",
    "SCHEMA_REGISTRY_URL": "mock://streams (in-process; use a real registry URL in deployments)",
    "SCHEMA_REGISTRY_BASIC_AUTH": "unset (user:password for the registry)",
    "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT (or SASL_SSL, SSL, SASL_PLAINTEXT)",
    "KAFKA_SASL_MECHANISM": "unset (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN)",
    "KAFKA_SASL_USERNAME": "unset",
    "KAFKA_SASL_PASSWORD": "unset (never logged)",
    "KAFKA_SSL_CA_LOCATION": "unset (PEM file of the CA)",
    "KAFKA_SSL_CERTIFICATE_LOCATION": "unset (client certificate, mutual TLS)",
    "KAFKA_SSL_KEY_LOCATION": "unset (client key, mutual TLS)",
    "STREAMS_TOPIC_BOOK_DELTAS": "book-deltas",
    "STREAMS_TOPIC_IMBALANCE": "imbalance",
    "STREAMS_TOPIC_SUGGESTIONS": "circuit-breaker-suggestions",
    "STREAMS_TOPIC_DEAD_LETTER": "book-deltas.dead-letter",
    "STREAMS_HOME": "~/.cache/streams (Kafka jars, broker data, state)",
    "STREAMS_KAFKA_VERSION": "3.9.1 (the org.apache.kafka:kafka_2.13 version Maven fetches)",
    "STREAMS_LOG_FORMAT": "text (or json: one JSON object per line, for log shippers)",
    "STREAMS_CONNECT_TIMEOUT_S": "10 (seconds a command waits for Kafka or the schema registry)",
    "STREAMS_CONFIG": "unset: built-in defaults (TOML file of metrics, breaker and tiers; "
    "--config overrides it; example: deploy/streams.toml)",
}

# Read by the build, the tests or the benchmarks, never by a command: exporting one is harmless,
# so they are not "unknown settings". STREAMS_TEST_* variables belong to the test suite too.
TOOLING_ENVIRONMENT: dict[str, str] = {
    "STREAMS_PURE_PYTHON": "unset (1: install without compiling the core; setup.py)",
    "STREAMS_RECORDINGS": "../shared/data/exchange-recordings (the venue recordings of the "
    "tests, the benchmarks and the instrument snapshot builder)",
    "STREAMS_LONG_BOOKS": "../shared/data/long-books (the hour-long real books of the breaker "
    "evaluation)",
}
_TOOLING_PREFIX = "STREAMS_TEST_"
_SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_recordings() -> Path:
    """The real venue recordings beside the repository, which the tests and benchmarks read."""
    return Path(os.environ.get("STREAMS_RECORDINGS") or _SHARED_DATA / "exchange-recordings")


def shared_long_books() -> Path:
    """The hour-long real tardis books beside the repository (calm markets) for the breaker."""
    return Path(os.environ.get("STREAMS_LONG_BOOKS") or _SHARED_DATA / "long-books")


_SECURITY_PROTOCOLS = frozenset({"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"})
_LOG_FORMATS = ("text", "json")
_REGISTRY_SCHEMES = ("mock://", "http://", "https://")


class ConfigurationError(StreamsError):
    """A setting is missing, malformed or inconsistent."""


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _reject_unknown(env: Mapping[str, str]) -> None:
    """A misspelt STREAMS_* variable would silently fall back to a default: name it, suggest one."""
    known = [*ENVIRONMENT, *TOOLING_ENVIRONMENT]
    unknown = sorted(
        name
        for name in env
        if name.startswith("STREAMS_")
        and name not in known
        and not name.startswith(_TOOLING_PREFIX)
    )
    if not unknown:
        return
    described = []
    suffixes = {name.removeprefix("STREAMS_"): name for name in known}  # the shared prefix is noise
    for name in unknown:
        close = difflib.get_close_matches(name.removeprefix("STREAMS_"), suffixes, n=1)
        described.append(f"{name} (did you mean {suffixes[close[0]]}?)" if close else name)
    raise ConfigurationError(
        f"unknown setting(s): {', '.join(described)}; `streams --help` lists the known ones"
    )


def _seconds(name: str, value: str | None, default: float = 10.0) -> float:
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ConfigurationError(f"{name}={value!r}: expected seconds > 0") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Topics:
    """Names of the topics the product reads and writes."""

    book_deltas: str = "book-deltas"
    imbalance: str = "imbalance"
    suggestions: str = "circuit-breaker-suggestions"
    dead_letter: str = "book-deltas.dead-letter"

    def replay(self) -> Topics:
        """Topics an audit replay writes to: never the live ones."""
        return Topics(
            book_deltas=self.book_deltas,
            imbalance=f"replay.{self.imbalance}",
            suggestions=f"replay.{self.suggestions}",
            dead_letter=f"replay.{self.dead_letter}",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Connection and naming settings shared by every role."""

    bootstrap_servers: str | None = None
    schema_registry_url: str = "mock://streams"
    schema_registry_basic_auth: Secret | None = None
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: Secret | None = None
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    topics: Topics = field(default_factory=Topics)
    home: Path = field(default_factory=lambda: Path.home() / ".cache" / "streams")
    kafka_version: str = "3.9.1"
    log_format: str = "text"
    connect_timeout_s: float = 10.0
    config_path: Path | None = None

    def __post_init__(self) -> None:
        if not self.schema_registry_url.startswith(_REGISTRY_SCHEMES):
            raise ConfigurationError(
                f"SCHEMA_REGISTRY_URL={self.schema_registry_url!r}: expected "
                "http(s)://HOST:PORT or mock://NAME"
            )
        if not self.connect_timeout_s > 0:
            raise ConfigurationError(
                f"STREAMS_CONNECT_TIMEOUT_S={self.connect_timeout_s!r}: expected seconds > 0"
            )
        if self.log_format not in _LOG_FORMATS:
            raise ConfigurationError(
                f"STREAMS_LOG_FORMAT={self.log_format!r}: expected one of {list(_LOG_FORMATS)}"
            )
        if self.security_protocol not in _SECURITY_PROTOCOLS:
            raise ConfigurationError(
                f"KAFKA_SECURITY_PROTOCOL={self.security_protocol!r}: "
                f"expected one of {sorted(_SECURITY_PROTOCOLS)}"
            )
        if self.security_protocol.startswith("SASL") and not (
            self.sasl_mechanism and self.sasl_username and self.sasl_password
        ):
            raise ConfigurationError(
                f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs KAFKA_SASL_MECHANISM, "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables; unknown STREAMS_* variables are errors."""
        env = os.environ if environ is None else environ
        _reject_unknown(env)

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def secret(name: str) -> Secret | None:
            value = text(name)
            return Secret(value) if value else None

        defaults = Topics()
        topics = Topics(
            book_deltas=text("STREAMS_TOPIC_BOOK_DELTAS") or defaults.book_deltas,
            imbalance=text("STREAMS_TOPIC_IMBALANCE") or defaults.imbalance,
            suggestions=text("STREAMS_TOPIC_SUGGESTIONS") or defaults.suggestions,
            dead_letter=text("STREAMS_TOPIC_DEAD_LETTER") or defaults.dead_letter,
        )
        home = text("STREAMS_HOME")
        config_path = text("STREAMS_CONFIG")
        return cls(
            bootstrap_servers=text("KAFKA_BOOTSTRAP_SERVERS"),
            schema_registry_url=text("SCHEMA_REGISTRY_URL") or "mock://streams",
            schema_registry_basic_auth=secret("SCHEMA_REGISTRY_BASIC_AUTH"),
            security_protocol=(text("KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT").upper(),
            sasl_mechanism=text("KAFKA_SASL_MECHANISM"),
            sasl_username=text("KAFKA_SASL_USERNAME"),
            sasl_password=secret("KAFKA_SASL_PASSWORD"),
            ssl_ca_location=text("KAFKA_SSL_CA_LOCATION"),
            ssl_certificate_location=text("KAFKA_SSL_CERTIFICATE_LOCATION"),
            ssl_key_location=text("KAFKA_SSL_KEY_LOCATION"),
            topics=topics,
            home=Path(home).expanduser() if home else Path.home() / ".cache" / "streams",
            kafka_version=text("STREAMS_KAFKA_VERSION") or "3.9.1",
            log_format=(text("STREAMS_LOG_FORMAT") or "text").lower(),
            connect_timeout_s=_seconds(
                "STREAMS_CONNECT_TIMEOUT_S", text("STREAMS_CONNECT_TIMEOUT_S")
            ),
            config_path=Path(config_path).expanduser() if config_path else None,
        )

    def secret_values(self) -> tuple[str, ...]:
        """Every secret these settings hold, in clear: for log redaction, never for output."""
        values = [self.sasl_password, self.schema_registry_basic_auth]
        revealed = [secret.reveal() for secret in values if secret is not None]
        if self.schema_registry_basic_auth is not None:  # user:password, the password alone too
            revealed.append(self.schema_registry_basic_auth.reveal().partition(":")[2])
        return tuple(revealed)

    def with_bootstrap(self, bootstrap_servers: str) -> Settings:
        """Return a copy pointed at another cluster (the local broker, in tests and demos)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["bootstrap_servers"] = bootstrap_servers
        return Settings(**values)

    def require_bootstrap(self) -> str:
        if not self.bootstrap_servers:
            raise ConfigurationError(
                "no Kafka cluster: set KAFKA_BOOTSTRAP_SERVERS or run `streams broker start`"
            )
        return self.bootstrap_servers

    def kafka_client_config(self) -> dict[str, str]:
        """librdkafka settings (confluent-kafka) for producers, consumers and admin clients."""
        config = {
            "bootstrap.servers": self.require_bootstrap(),
            "security.protocol": self.security_protocol,
        }
        optional = {
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password.reveal() if self.sasl_password else None,
            "ssl.ca.location": self.ssl_ca_location,
            "ssl.certificate.location": self.ssl_certificate_location,
            "ssl.key.location": self.ssl_key_location,
        }
        config.update({k: v for k, v in optional.items() if v})
        return config

    def schema_registry_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "url": self.schema_registry_url,
            "timeout": self.connect_timeout_s,
        }
        if self.schema_registry_basic_auth:
            config["basic.auth.user.info"] = self.schema_registry_basic_auth.reveal()
        return config


def load_pipeline_config(path: Path | str | None) -> PipelineConfig:
    """Read a TOML configuration file (None: the defaults); any mistake is a ConfigurationError
    of one line: the file, the key path and what is wrong with it."""
    if path is None:
        return PipelineConfig()
    try:
        with Path(path).open("rb") as file:
            document = tomllib.load(file)
    except OSError as error:
        raise ConfigurationError(f"{path}: cannot read: {error.strerror or error}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{path}: not valid TOML: {error}") from error
    try:
        return PipelineConfig.from_document(document)
    except ConfigFileError as error:
        raise ConfigurationError(f"{path}: {error}") from error


def render_pipeline_config(config: PipelineConfig, source: str) -> str:
    """The effective configuration as a TOML file that loads back to the same hash."""
    import tomli_w

    header = f"# effective configuration ({source})\n# config_hash = {config.config_hash()}\n"
    document = config.document()
    if not document["tiers"]:
        del document["tiers"]
    return header + tomli_w.dumps(document)
