"""Users: the people who use the systems AccessGuard administers."""

from __future__ import annotations

from data.entity import Entity, Field


def _roles() -> tuple[str, ...]:
    # The model's check constraint allows exactly these; read without loading SQLAlchemy.
    from models.plain import ROLES

    return ROLES


ENTITY = Entity(
    entity="user",
    plural="users",
    key="1",
    model="models.user:User",
    natural_key="email",
    display="name",
    fields=(
        Field(
            "name",
            "text",
            width=18,
            grow=2,
            sort=True,
            search=True,
            required=True,
            placeholder="Full name",
            help="full name",
        ),
        Field(
            "email",
            "email",
            width=26,
            grow=3,
            sort=True,
            search=True,
            required=True,
            placeholder="name@example.com",
            help="email address (unique, any case)",
        ),
        Field(
            "role",
            "choice",
            width=6,
            sort=True,
            choices=_roles,
            default="viewer",
            help="admin, editor or viewer (default: viewer)",
        ),
        Field(
            "is_active",
            "flag",
            width=6,
            sort=True,
            default=True,
            help="whether the user may sign in (default: yes)",
        ),
        Field("password", "secret", column="Pass", width=4),
    ),
    examples=(
        "users list --search alice",
        'users add --name "Alice Doe" --email alice@example.com --role editor',
        "users update alice@example.com --role admin --expect-version 3",
        "users set-password alice@example.com --password-stdin < password.txt",
        "users delete 42 --yes",
    ),
)
