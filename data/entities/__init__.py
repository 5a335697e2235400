"""The registry of entities: each module in this package declares one, as ``ENTITY``.

Adding an entity is a model, a module here and a migration; screens, forms, relations, the
command line, import/export and the audit find it through this registry. A test may
`register` an entity of its own (and `unregister` it after).

Reading the registry loads no SQLAlchemy (see `data.entity`).
"""

from __future__ import annotations

import importlib
import pkgutil

from data.entity import Entity, check_declaration, counted

AUDIT_KEY = "3"  # the audit log's screen key, kept since the first release

_registered: dict[str, Entity] = {}
_discovered = False


def _discover() -> None:
    """Register the ``ENTITY`` of every module in this package, once."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for module in pkgutil.iter_modules(__path__):
        declared = importlib.import_module(f"{__name__}.{module.name}").ENTITY
        register(declared)


def register(entity: Entity) -> Entity:
    """Add ``entity`` to the registry, declared right (`check_declaration`) and with names
    and a screen key of its own."""
    check_declaration(entity)
    _discover()
    for other in _registered.values():
        clash = {entity.entity, entity.plural} & {other.entity, other.plural}
        if clash or entity.key == other.key:
            raise ValueError(f"{entity.plural} clash with {other.plural} ({clash or entity.key})")
    if entity.key == AUDIT_KEY or not (entity.key.isdigit() and len(entity.key) == 1):
        raise ValueError(f"{entity.plural}: key {entity.key!r} must be a free digit, not 3")
    _registered[entity.plural] = entity
    return entity


def unregister(entity: Entity) -> None:
    """Take ``entity`` out of the registry (a test's own entity, after the test)."""
    _registered.pop(entity.plural, None)


def registered() -> tuple[Entity, ...]:
    """Every entity, in the order of their screen keys."""
    _discover()
    return tuple(sorted(_registered.values(), key=lambda entity: entity.key))


def entity_named(name: str) -> Entity:
    """The entity called ``name`` (``user`` or ``users``); `KeyError` if there is none."""
    for entity in registered():
        if name in (entity.entity, entity.plural):
            return entity
    raise KeyError(name)


__all__ = ["AUDIT_KEY", "Entity", "counted", "entity_named", "register", "registered", "unregister"]
