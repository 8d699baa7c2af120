"""The one shape of an error a user reads: a code and one gettext message.

A page shows the message in the reader's language (gettext). Where no language applies — a
command's output, an API error body, a file, a row's reasons stored with the import — the same
message is rendered in Chinese and in English from the one msgid (`both_languages`), so no
Chinese text is written beside its English in the code.
"""

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.utils.functional import Promise
from django.utils.translation import override

# The two languages a message is kept in where no one's language applies (files, the CLI, the
# stored reasons of a rejected row): Chinese first, as the people reading them are.
CHINESE = "zh-hans"
ENGLISH = "en"


Message = str | Promise  # a gettext_lazy message (a plain str is taken as it is)


def in_language(message: Message, language: str, params: Mapping[str, object] | None = None) -> str:
    """Returns a gettext_lazy message rendered in one language, its %(name)s params filled."""
    with override(language):
        text = str(message)
    return text % params if params else text


def both_languages(message: Message, params: Mapping[str, object] | None = None) -> str:
    """Returns a gettext_lazy message in Chinese, a slash, then in English: for text no one's
    language setting reaches (command output, API error bodies, files, stored records)."""
    zh, en = in_language(message, CHINESE, params), in_language(message, ENGLISH, params)
    return zh if zh == en else f"{zh} / {en}"


def error_in_both_languages(error: Exception) -> str:
    """Returns an exception's message(s) as both_languages gives them: each message of a
    ValidationError (with its params), else the exception's arguments."""
    if isinstance(error, ValidationError):
        if hasattr(error, "error_dict"):
            parts = [e for errors in error.error_dict.values() for e in errors]
        else:
            parts = error.error_list
        return " ".join(both_languages(e.message, e.params) for e in parts)
    if isinstance(error, BilingualError):
        return str(error)
    return " ".join(both_languages(arg) for arg in error.args if isinstance(arg, str | Promise))


class BilingualError(ValueError):
    """Raised with a machine code and one gettext_lazy message (its %(name)s params apart).

    `text` is the message in the active language (for a page); `zh` and `en` render it in
    each language, and str() gives both (for a command, a file, a stored record)."""

    def __init__(
        self, code: str, message: Message, params: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.params = dict(params) if params else None

    @property
    def text(self) -> str:
        """Returns the message in the active language."""
        return str(self.message) % self.params if self.params else str(self.message)

    @property
    def zh(self) -> str:
        return in_language(self.message, CHINESE, self.params)

    @property
    def en(self) -> str:
        return in_language(self.message, ENGLISH, self.params)

    def __str__(self) -> str:
        return both_languages(self.message, self.params)


def errors_by_field(error: ValidationError, *, general: str = "__all__") -> dict[str, str]:
    """Returns a ValidationError's messages as {field: text} for a JSON answer; messages not
    tied to a field go under `general`."""
    if hasattr(error, "error_dict"):
        return {field: " ".join(texts) for field, texts in error.message_dict.items()}
    return {general: " ".join(error.messages)}


def add_errors_to_form(form: BaseForm, error: ValidationError) -> None:
    """Shows a service's ValidationError on a form: at the field it names when the form has
    that field, otherwise at the top of the form."""
    if hasattr(error, "error_dict"):
        for field, texts in error.message_dict.items():
            form.add_error(field if field in form.fields else None, texts)
    else:
        form.add_error(None, error.messages)
