"""Operator settings: embedded defaults < settings.toml < environment (``ADHOC_`` prefix, ``__`` nesting).

The key names here are the operator contract: keep them exactly.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from app.sip.settings import SipSettings

SETTINGS_FILE_ENV = "ADHOC_SETTINGS_FILE"
DEFAULT_SETTINGS_FILE = Path("settings.toml")

Port = Annotated[int, Field(ge=1, le=65535)]
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CredentialPair(_Section):
    """A username with either a cleartext password or a password hash (never both)."""

    username: str = ""
    password: SecretStr | None = None
    password_hash: SecretStr | None = None

    @model_validator(mode="after")
    def _one_secret(self) -> Self:
        if self.password is not None and self.password_hash is not None:
            raise ValueError("set either password or password_hash, not both")
        if self.password is not None and not self.password.get_secret_value():
            raise ValueError("password must not be empty (leave it unset instead)")
        if self.password_hash is not None:
            from app.security.passwords import is_supported_hash

            if not is_supported_hash(self.password_hash.get_secret_value()):
                raise ValueError("password_hash is not an argon2, bcrypt or pbkdf2_sha256 hash")
        return self

    @property
    def configured(self) -> bool:
        return self.password is not None or self.password_hash is not None


class ExternalSystemSettings(CredentialPair):
    """What CUCM presents on /RPC2 (Pexip: legacy_api_username / legacy_api_password / legacy_api_http)."""

    enable_http_access: bool = False


class AdminSettings(CredentialPair):
    """HTTP Basic credentials of the management API (HTTPS only)."""

    username: str = "admin"


class ServerSettings(_Section):
    host: str = "0.0.0.0"  # noqa: S104 - a bridge listens for CUCM on every interface by default
    https_port: Port = 8443
    http_port: Port = 8080
    certfile: Path | None = None
    keyfile: Path | None = None
    trusted_proxies: Annotated[tuple[IpNetwork, ...], NoDecode] = ()
    workers: Annotated[int, Field(ge=1, le=64)] = 1

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if self.https_port == self.http_port:
            raise ValueError("https_port and http_port must differ")
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("set both certfile and keyfile, or neither")
        return self


class DatabaseSettings(_Section):
    url: str | None = None

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["console", "json"] = "console"

    @field_validator("level", "format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class ConferenceSettings(_Section):
    max_conferences: Annotated[int, Field(ge=1, le=1_000_000)] = 100_000
    max_participants: Annotated[int, Field(ge=1, le=10_000)] = 80


class SecretsSettings(_Section):
    encryption_key: SecretStr | None = None


class MediaSettings(_Section):
    """Janus AudioBridge, which mixes the calls (``media.*``; env ``ADHOC_MEDIA__JANUS_URL`` etc.).

    ``janus_url`` unset: the service runs its own Janus (``janus_binary``), configured under ``data_dir/janus/``.
    """

    janus_url: str | None = None
    janus_api_secret: SecretStr | None = None
    janus_binary: str = "janus"
    rtp_ports: str = "40000-40999"

    @field_validator("janus_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")) or len(value.split("://", 1)[1]) == 0:
            raise ValueError("must be the http:// or https:// URL of the Janus API, e.g. http://127.0.0.1:8088/janus")
        return value

    @field_validator("janus_binary")
    @classmethod
    def _binary(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name the janus program (a name found on PATH or a path)")
        return value.strip()

    @field_validator("rtp_ports")
    @classmethod
    def _port_range(cls, value: str) -> str:
        low_text, sep, high_text = value.strip().partition("-")
        if not sep or not low_text.strip().isdigit() or not high_text.strip().isdigit():
            raise ValueError('must be a port range "low-high", e.g. "40000-40999"')
        low, high = int(low_text), int(high_text)
        if not 1024 <= low < high <= 65535:
            raise ValueError("must be a range within 1024-65535 with low < high")
        if low % 2:
            raise ValueError("the range must start on an even port (RTP uses even ports)")
        return f"{low}-{high}"

    @property
    def rtp_port_range(self) -> tuple[int, int]:
        low, high = self.rtp_ports.split("-")
        return int(low), int(high)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ADHOC_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    external_system: ExternalSystemSettings = ExternalSystemSettings()
    admin: AdminSettings = AdminSettings()
    server: ServerSettings = ServerSettings()
    data_dir: Path = Path("var")
    database: DatabaseSettings = DatabaseSettings()
    log: LogSettings = LogSettings()
    conferences: ConferenceSettings = ConferenceSettings()
    secrets: SecretsSettings = SecretsSettings()
    sip: SipSettings = SipSettings()
    media: MediaSettings = MediaSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = settings_file_path()
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_path))

    @property
    def database_url(self) -> str:
        if self.database.url is not None:
            return self.database.url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'adhoc-bridge.db').resolve()}"


class SettingsFileError(Exception):
    """The settings file named by ADHOC_SETTINGS_FILE is missing or unreadable."""


def settings_file_path() -> Path:
    explicit = os.environ.get(SETTINGS_FILE_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise SettingsFileError(f"{SETTINGS_FILE_ENV}: no such file: {path}")
        return path
    return DEFAULT_SETTINGS_FILE


def load_settings() -> Settings:
    """Read settings from every source. Raises ``SettingsFileError`` or pydantic's ``ValidationError``."""
    return Settings()
