"""State shared by CLI commands: the settings, loaded once and only when a command needs them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fraudstream import logs
from fraudstream.settings import Settings, load_settings


@dataclass
class CliContext:
    settings_file: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """Validated settings; raises SettingsError (one line at the prompt) when invalid."""
        if self._settings is None:
            self._settings = load_settings(self.settings_file, **self.overrides)
            logs.configure(self._settings.log_level)
        return self._settings
