"""The configuration of our own Janus, written under ``data_dir/janus/``.

Only the AudioBridge plugin and the HTTP transport are loaded (every other plugin, transport and logger is
disabled, event handlers off), the admin API is off, the API listens on 127.0.0.1 only and wants a random
``api_secret``, and AudioBridge's plain-RTP participants (our calls) bind inside ``media.rtp_ports``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["JanusFolders", "EmbeddedJanusConfig", "find_janus_folders", "write_config"]

MAIN_FILE = "janus.jcfg"
HTTP_FILE = "janus.transport.http.jcfg"
AUDIOBRIDGE_FILE = "janus.plugin.audiobridge.jcfg"
_AUDIOBRIDGE_LIBRARY = "libjanus_audiobridge.so"
_HTTP_LIBRARY = "libjanus_http.so"


@dataclass(frozen=True, slots=True)
class JanusFolders:
    """Where the installed Janus keeps its loadable modules."""

    plugins: Path
    transports: Path
    events: Path
    loggers: Path


@dataclass(frozen=True, slots=True)
class EmbeddedJanusConfig:
    directory: Path
    folders: JanusFolders
    api_port: int
    api_secret: str
    rtp_ports: tuple[int, int]
    rtp_ip: str

    @property
    def main_file(self) -> Path:
        return self.directory / MAIN_FILE

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/janus"


def find_janus_folders(binary: Path) -> JanusFolders | None:
    """The module folders of the Janus installed as ``binary`` (Debian, /usr/local or /opt layouts)."""
    prefix = binary.resolve().parent.parent
    candidates: list[Path] = []
    for sample in (prefix / "etc/janus/janus.jcfg", Path("/etc/janus/janus.jcfg")):
        folder = _plugins_folder_named_in(sample)
        if folder is not None:
            candidates.append(folder.parent)
    for lib in ("lib", "lib64"):
        candidates.append(prefix / lib / "janus")
        candidates.extend(sorted((prefix / lib).glob("*/janus")))
    for root in candidates:
        if (root / "plugins" / _AUDIOBRIDGE_LIBRARY).exists() and (root / "transports" / _HTTP_LIBRARY).exists():
            return JanusFolders(root / "plugins", root / "transports", root / "events", root / "loggers")
    return None


def _plugins_folder_named_in(sample: Path) -> Path | None:
    try:
        text = sample.read_text(errors="replace")
    except OSError:
        return None
    match = re.search(r'^\s*plugins_folder\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return Path(match.group(1)) if match else None


def _others(folder: Path, keep: str | None) -> str:
    """Comma-separated file names of the modules in ``folder`` other than ``keep`` (Janus' ``disable`` list)."""
    try:
        names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".so"))
    except OSError:
        return ""
    return ",".join(name for name in names if name != keep)


def _quote(value: object) -> str:
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(config: EmbeddedJanusConfig) -> None:
    """Write the three configuration files (mode 0600: they hold the API secret)."""
    config.directory.mkdir(parents=True, exist_ok=True)
    folders = config.folders
    low, high = config.rtp_ports
    port_range = _quote(f"{low}-{high}")
    main = f"""# Written by adhoc-bridge at every start of its Janus; edits are overwritten.
general: {{
\tconfigs_folder = {_quote(config.directory)}
\tplugins_folder = {_quote(folders.plugins)}
\ttransports_folder = {_quote(folders.transports)}
\tevents_folder = {_quote(folders.events)}
\tloggers_folder = {_quote(folders.loggers)}
\tdebug_level = 3
\tdebug_timestamps = true
\tserver_name = "adhoc-bridge"
\tsession_timeout = 60
\tapi_secret = {_quote(config.api_secret)}
\ttoken_auth = false
}}
media: {{
\trtp_port_range = {port_range}
}}
nat: {{
\tice_ignore_list = "vmnet"
}}
plugins: {{
\tdisable = {_quote(_others(folders.plugins, _AUDIOBRIDGE_LIBRARY))}
}}
transports: {{
\tdisable = {_quote(_others(folders.transports, _HTTP_LIBRARY))}
}}
loggers: {{
\tdisable = {_quote(_others(folders.loggers, None))}
}}
events: {{
\tbroadcast = false
}}
"""
    http = f"""general: {{
\tjson = "plain"
\tbase_path = "/janus"
\thttp = true
\tip = "127.0.0.1"
\tport = {config.api_port}
\thttps = false
}}
admin: {{
\tadmin_http = false
\tadmin_https = false
}}
"""
    audiobridge = f"""general: {{
\trtp_port_range = {port_range}
\tlocal_ip = {_quote(config.rtp_ip)}
\tevents = false
}}
"""
    for name, text in ((MAIN_FILE, main), (HTTP_FILE, http), (AUDIOBRIDGE_FILE, audiobridge)):
        _write_private(config.directory / name, text)


def _write_private(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
