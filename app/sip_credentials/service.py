"""SIP credentials: CRUD with audit for the API and the CLI, and ``credential_for(realm)`` for the SIP client."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from app.sip_credentials import repository
from app.sip_credentials.crypto import RowBinding, Sealed, UndecryptableSecret, open_sealed, seal
from app.sip_credentials.keyring import Keyring
from app.sip_credentials.models import SipCredential
from app.sip_credentials.validation import InvalidField, check_field
from app.storage.database import Database

logger = logging.getLogger(__name__)
audit = logging.getLogger("adhoc.audit")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: the admin user (or ``cli:<os user>``) and where from."""

    user: str
    peer: str


@dataclass(frozen=True, slots=True)
class CredentialView:
    id: int
    realm: str
    username: str


@dataclass(frozen=True, slots=True)
class Page:
    total: int
    items: list[CredentialView]


class CredentialNotFound(Exception):
    pass


class DuplicateRealm(Exception):
    pass


class PasswordUnreadable(Exception):
    """The stored password does not decrypt (moved or tampered row, or its key was lost)."""

    def __init__(self, credential_id: int) -> None:
        super().__init__(f"stored password of credential {credential_id} cannot be decrypted")
        self.credential_id = credential_id


def _view(row: SipCredential) -> CredentialView:
    return CredentialView(row.id, row.realm, row.username)


def _binding(row: SipCredential) -> RowBinding:
    return RowBinding(row.id, row.realm, row.username)


class SipCredentialService:
    def __init__(self, database: Database, keyring: Keyring) -> None:
        self.database = database
        self.keyring = keyring

    # -- sealing -------------------------------------------------------------------------------------

    def _seal(self, row: SipCredential, password: str) -> None:
        key = self.keyring.current()
        sealed = seal(key.key_id, key.secret, password, _binding(row))
        row.key_id, row.password_sealed = sealed.key_id, sealed.blob

    def _open(self, row: SipCredential) -> str:
        return open_sealed(self.keyring.key(row.key_id), Sealed(row.key_id, row.password_sealed), _binding(row))

    def _readable(self, row: SipCredential) -> bool:
        try:
            self._open(row)
        except UndecryptableSecret:
            return False
        return True

    # -- reads ---------------------------------------------------------------------------------------

    async def list_page(self, *, realm: str | None, limit: int, offset: int) -> Page:
        async with self.database.session() as session:
            total, rows = await repository.page(session, realm=realm, limit=limit, offset=offset)
            return Page(total, [_view(row) for row in rows])

    async def get(self, credential_id: int) -> CredentialView:
        """One credential; ``PasswordUnreadable`` when its stored password no longer decrypts."""
        async with self.database.session() as session:
            row = await repository.get(session, credential_id)
            if row is None:
                raise CredentialNotFound(credential_id)
            if not self._readable(row):
                raise PasswordUnreadable(credential_id)
            return _view(row)

    async def find_by_realm(self, realm: str) -> CredentialView | None:
        async with self.database.session() as session:
            row = await repository.by_realm(session, realm)
            return None if row is None else _view(row)

    async def credential_for(self, realm: str) -> tuple[str, str] | None:
        """(username, password) configured for exactly ``realm`` (byte for byte), or None.

        Reads the row every time (one indexed SELECT), so a change committed by any worker or by the CLI
        is used by the next challenge answered anywhere.
        """
        try:
            check_field("realm", realm)
        except InvalidField:
            return None
        async with self.database.session() as session:
            row = await repository.by_realm(session, realm)
            if row is None:
                return None
            try:
                return row.username, self._open(row)
            except UndecryptableSecret as exc:
                logger.error(
                    "stored SIP password cannot be decrypted; set it again",
                    extra={"realm": row.realm, "credential_id": row.id, "key_id": row.key_id, "reason": str(exc)},
                )
                return None

    # -- changes -------------------------------------------------------------------------------------

    async def create(self, *, realm: str, username: str, password: str, actor: Actor) -> CredentialView:
        check_field("realm", realm)
        check_field("username", username)
        check_field("password", password)
        try:
            async with self.database.session() as session:
                if await repository.realm_taken(session, realm):
                    raise DuplicateRealm(realm)
                row = SipCredential(realm=realm, username=username, key_id="", password_sealed=b"")
                session.add(row)
                await session.flush()  # the row id is part of the associated data
                self._seal(row, password)
                view = _view(row)
        except IntegrityError:
            raise DuplicateRealm(realm) from None
        self._audit("create", actor, view, ["realm", "username", "password"])
        return view

    async def update(
        self,
        credential_id: int,
        *,
        actor: Actor,
        realm: str | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> CredentialView:
        """Change the given fields; without ``password`` the stored one is kept (re-sealed if realm/username move)."""
        for field, value in (("realm", realm), ("username", username), ("password", password)):
            if value is not None:
                check_field(field, value)
        changed: list[str] = []
        try:
            async with self.database.session() as session:
                row = await repository.get(session, credential_id)
                if row is None:
                    raise CredentialNotFound(credential_id)
                if realm is not None and realm != row.realm and await repository.realm_taken(session, realm):
                    raise DuplicateRealm(realm)
                keep = None
                moves = (realm is not None and realm != row.realm) or (
                    username is not None and username != row.username
                )
                if password is None and moves:
                    try:
                        keep = self._open(row)
                    except UndecryptableSecret:
                        raise PasswordUnreadable(credential_id) from None
                if realm is not None and realm != row.realm:
                    row.realm = realm
                    changed.append("realm")
                if username is not None and username != row.username:
                    row.username = username
                    changed.append("username")
                if password is not None:
                    changed.append("password")
                new_password = password if password is not None else keep
                if new_password is not None:
                    self._seal(row, new_password)
                view = _view(row)
        except IntegrityError:
            raise DuplicateRealm(realm or "") from None
        self._audit("update", actor, view, changed)
        return view

    async def delete(self, credential_id: int, *, actor: Actor) -> None:
        async with self.database.session() as session:
            row = await repository.get(session, credential_id)
            if row is None:
                raise CredentialNotFound(credential_id)
            view = _view(row)
            await session.delete(row)
        self._audit("delete", actor, view, [])

    def _audit(self, action: str, actor: Actor, view: CredentialView, changed: list[str]) -> None:
        audit.info(
            f"sip credential {action}d",
            extra={
                "action": f"sip_credential.{action}",
                "admin_user": actor.user,
                "peer": actor.peer,
                "credential_id": view.id,
                "realm": view.realm,
                "username": view.username,
                "changed": ",".join(changed),
            },
        )
