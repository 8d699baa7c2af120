"""The one shape of an error a user reads: a code, and the message in Chinese and English."""

from django.core.exceptions import ValidationError


class BilingualError(ValueError):
    """Raised with a machine code and the message in Chinese (zh) and English (en)."""

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.code = code
        self.zh = zh
        self.en = en


def errors_by_field(error: ValidationError, *, general: str = "__all__") -> dict[str, str]:
    """Returns a ValidationError's messages as {field: text} for a JSON answer; messages not
    tied to a field go under `general`."""
    if hasattr(error, "error_dict"):
        return {field: " ".join(texts) for field, texts in error.message_dict.items()}
    return {general: " ".join(error.messages)}


def add_errors_to_form(form, error: ValidationError) -> None:
    """Shows a service's ValidationError on a form: at the field it names when the form has
    that field, otherwise at the top of the form."""
    if hasattr(error, "error_dict"):
        for field, texts in error.message_dict.items():
            form.add_error(field if field in form.fields else None, texts)
    else:
        form.add_error(None, error.messages)
