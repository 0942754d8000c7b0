"""Provider credentials are encrypted at rest with a key from configuration."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken


class CredentialsUnreadable(Exception):
    """Stored credentials cannot be decrypted with the configured key."""


class CredentialCipher:
    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def seal(self, secrets: dict[str, str]) -> bytes:
        return self._fernet.encrypt(json.dumps(secrets).encode())

    def open(self, sealed: bytes) -> dict[str, str]:
        try:
            opened: dict[str, str] = json.loads(self._fernet.decrypt(sealed))
        except InvalidToken as exc:
            raise CredentialsUnreadable("credentials key does not match") from exc
        return opened
