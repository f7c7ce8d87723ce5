"""Settings come from the environment once, validate early and never reveal secrets."""

from __future__ import annotations

import pytest

from streams.config import ConfigurationError, Settings


@pytest.mark.unit
def test_defaults_when_environment_is_empty() -> None:
    settings = Settings.from_environment({})

    assert settings.bootstrap_servers is None
    assert settings.schema_registry_url == "mock://streams"
    assert settings.topics.book_deltas == "book-deltas"
    assert settings.topics.suggestions == "circuit-breaker-suggestions"


@pytest.mark.unit
def test_sasl_settings_pass_through_to_librdkafka_without_showing_the_password() -> None:
    settings = Settings.from_environment(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "kafka:9093",
            "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": "streams",
            "KAFKA_SASL_PASSWORD": "hunter2-very-secret",
            "KAFKA_SSL_CA_LOCATION": "/etc/ca.pem",
        }
    )

    config = settings.kafka_client_config()

    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.password"] == "hunter2-very-secret"
    assert config["ssl.ca.location"] == "/etc/ca.pem"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.sasl_password)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "KAFKA_SASL_MECHANISM"),
        ({"STREAMS_TOPIC_TYPO": "x"}, "STREAMS_TOPIC_TYPO"),
    ],
)
def test_bad_configuration_is_rejected_with_the_variable_named(
    environment: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_environment(environment)


@pytest.mark.unit
def test_replay_topics_never_equal_the_live_ones() -> None:
    topics = Settings.from_environment({}).topics

    replay = topics.replay()

    assert replay.book_deltas == topics.book_deltas
    assert {replay.imbalance, replay.suggestions}.isdisjoint({topics.imbalance, topics.suggestions})


@pytest.mark.unit
def test_variables_of_the_build_and_the_tests_are_not_unknown_settings() -> None:
    settings = Settings.from_environment(
        {"STREAMS_PURE_PYTHON": "1", "STREAMS_RECORDINGS": "/data", "STREAMS_TEST_DOCKER": "1"}
    )

    assert settings == Settings.from_environment({})


@pytest.mark.unit
def test_a_misspelt_setting_is_rejected_with_the_likely_name() -> None:
    with pytest.raises(
        ConfigurationError, match=r"STREAMS_LOGFORMAT \(did you mean STREAMS_LOG_FORMAT\?\)"
    ):
        Settings.from_environment({"STREAMS_LOGFORMAT": "json"})
