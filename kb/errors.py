"""Library exceptions. Each message is one line a user can act on; the CLI prints it as is."""
from __future__ import annotations


class KBError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(KBError):
    """A setting has a bad value (the message names the setting and the valid choices)."""


class IngestError(KBError):
    """A source could not be read at all: missing, empty, corrupt, encrypted, unsupported."""


class ModelError(KBError):
    """The embedding model could not be found, converted or loaded."""


class IndexError_(KBError):
    """Base for index problems (named with a trailing underscore to keep the builtin usable)."""


class IndexNotFoundError(IndexError_):
    """No published index at the given location."""


class IndexMismatchError(IndexError_):
    """The index was built with another model or an incompatible format."""


class IndexCorruptError(IndexError_):
    """A version's files are damaged or changed since publishing (the message names the file and the fix)."""


class IndexWriteError(IndexError_):
    """A sync or rollback could not write (disk full, permissions); the live version is unchanged."""


class QueryError(KBError):
    """The query cannot be searched (empty, too long, bad k)."""


class IndexLockedError(IndexError_):
    """Another process is writing (syncing or rolling back) this index."""


class FetchError(KBError):
    """The fetch list is invalid, or a download was refused (the message says which and why)."""
