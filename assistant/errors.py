"""Domain exceptions. Each message says what went wrong and what to do about it."""


class AssistantError(Exception):
    """Base class for every error this package raises on purpose."""


class LetterError(AssistantError):
    """A letter could not be read; the message says why (the letter is skipped)."""


class IndexMissingError(AssistantError):
    """There is no index where one was expected."""


class IndexMismatchError(AssistantError):
    """The index was built with another model, chunking or format version."""


class IndexCorruptError(AssistantError):
    """The index files disagree with each other or with the manifest."""


class ModelLoadError(AssistantError):
    """The embedding model could not be loaded."""


class IndexBusyError(AssistantError):
    """Another process is updating the index (only one writer at a time)."""


class QuestionError(AssistantError):
    """A question that cannot be read: not text, or longer than a question may be."""


class FilterError(AssistantError, ValueError):
    """A filter (a date, a judgement, a framework) could not be read; the message shows how to write it."""


class AuthorityError(AssistantError, ValueError):
    """An authority asked for has no letters (the message names the close matches), or none was named."""


class TrainingError(AssistantError, ValueError):
    """Labelled data or options that a learned part cannot be trained or checked on (no labels, an
    index without the labelled reports, options that clash); the message says what to give."""
