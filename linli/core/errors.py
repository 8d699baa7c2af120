"""The one shape of an error a user reads: a code, and the message in Chinese and English."""


class BilingualError(ValueError):
    """Raised with a machine code and the message in Chinese (zh) and English (en)."""

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.code = code
        self.zh = zh
        self.en = en
