"""SIP messages (RFC 3261 §7): parsing what arrives in one UDP datagram and writing ours.

Only what a calling UAC needs: header names are folded to their canonical long form (compact
forms such as `v`, `i`, `f` are accepted), multi-valued headers keep every value in order, and
helpers read the parameters the transaction and dialog layers key on (Via branch, tags, CSeq).
"""

import re
import secrets
from dataclasses import dataclass, field

COMPACT = {
    "v": "Via",
    "f": "From",
    "t": "To",
    "i": "Call-ID",
    "m": "Contact",
    "l": "Content-Length",
    "c": "Content-Type",
    "k": "Supported",
    "s": "Subject",
    "e": "Content-Encoding",
}
CANONICAL = {
    name.lower(): name
    for name in (
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Content-Length",
        "Content-Type",
        "Max-Forwards",
        "Route",
        "Record-Route",
        "WWW-Authenticate",
        "Proxy-Authenticate",
        "Authorization",
        "Proxy-Authorization",
        "User-Agent",
        "Allow",
        "Supported",
        "Reason",
        "Expires",
    )
}
# Headers that may be sent comma-joined on one line (RFC 3261 §7.3.1); authentication headers
# are not among them because their values contain commas.
LIST_HEADERS = {"Via", "Route", "Record-Route", "Contact", "Allow", "Supported"}

BRANCH_MAGIC = "z9hG4bK"  # RFC 3261 §8.1.1.7


class SipParseError(ValueError):
    """A datagram that is not a SIP message we can read."""


def canonical(name: str) -> str:
    lowered = name.strip().lower()
    if lowered in COMPACT:
        return COMPACT[lowered]
    return CANONICAL.get(lowered, "-".join(part.capitalize() for part in lowered.split("-")))


def split_list(value: str) -> list[str]:
    """Splits a comma-joined header value, respecting quotes and <…> (a display name or URI
    parameter may contain commas)."""
    parts, depth, quoted, current = [], 0, False, []
    for char in value:
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "<":
            depth += 1
        elif not quoted and char == ">":
            depth -= 1
        if char == "," and not quoted and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def new_branch() -> str:
    return BRANCH_MAGIC + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(6)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(12)}@{host}"


@dataclass
class SipMessage:
    """A request (`method`, `uri`) or a response (`status`, `reason`)."""

    method: str = ""
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return bool(self.method)

    # -- headers -----------------------------------------------------------------------------
    def get(self, name: str, default: str = "") -> str:
        name = canonical(name)
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        name = canonical(name)
        values: list[str] = []
        for key, value in self.headers:
            if key == name:
                values.extend(split_list(value) if name in LIST_HEADERS else [value])
        return values

    def add(self, name: str, value: str) -> None:
        self.headers.append((canonical(name), value))

    def set(self, name: str, value: str) -> None:
        name = canonical(name)
        self.headers = [(k, v) for k, v in self.headers if k != name]
        self.headers.append((name, value))

    def remove(self, name: str) -> None:
        name = canonical(name)
        self.headers = [(k, v) for k, v in self.headers if k != name]

    # -- keys the transaction and dialog layers use ------------------------------------------
    @property
    def call_id(self) -> str:
        return self.get("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = self.get("CSeq").strip().partition(" ")
        try:
            return int(number), method.strip().upper()
        except ValueError as exc:
            raise SipParseError("bad CSeq") from exc

    @property
    def branch(self) -> str:
        vias = self.get_all("Via")
        return header_params(vias[0]).get("branch", "") if vias else ""

    @property
    def from_tag(self) -> str:
        return header_params(self.get("From")).get("tag", "")

    @property
    def to_tag(self) -> str:
        return header_params(self.get("To")).get("tag", "")

    @property
    def content_type(self) -> str:
        return self.get("Content-Type").split(";")[0].strip().lower()

    # -- wire format -------------------------------------------------------------------------
    def encode(self) -> bytes:
        first = (
            f"{self.method} {self.uri} SIP/2.0"
            if self.is_request
            else f"SIP/2.0 {self.status} {self.reason}"
        )
        lines = [first]
        lines += [f"{k}: {v}" for k, v in self.headers if k != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body

    @classmethod
    def parse(cls, data: bytes) -> "SipMessage":
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            head, sep, body = data.partition(b"\n\n")
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SipParseError("not UTF-8") from exc
        raw_lines = text.replace("\r\n", "\n").split("\n")
        if not raw_lines or not raw_lines[0].strip():
            raise SipParseError("empty message")
        # Header continuation lines (leading whitespace) belong to the line above.
        lines: list[str] = []
        for line in raw_lines[1:]:
            if line[:1] in (" ", "\t") and lines:
                lines[-1] += " " + line.strip()
            elif line:
                lines.append(line)
        message = cls()
        first = raw_lines[0].strip()
        if first.startswith("SIP/2.0 "):
            _, status, *reason = first.split(" ", 2)
            if not status.isdigit():
                raise SipParseError("bad status line")
            message.status = int(status)
            message.reason = reason[0] if reason else ""
        else:
            parts = first.split(" ")
            if len(parts) != 3 or parts[2] != "SIP/2.0":
                raise SipParseError("bad request line")
            message.method, message.uri = parts[0].upper(), parts[1]
        for line in lines:
            name, colon, value = line.partition(":")
            if not colon:
                raise SipParseError("bad header line")
            message.headers.append((canonical(name), value.strip()))
        length = message.get("Content-Length")
        if length.isdigit():
            body = body[: int(length)]
        message.body = body
        if not message.call_id or not message.get("CSeq"):
            raise SipParseError("missing Call-ID or CSeq")
        message.cseq  # noqa: B018 - validates the CSeq early
        return message


_PARAM = re.compile(r';\s*([^=;\s]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*))?')


def header_params(value: str) -> dict[str, str]:
    """The ;name=value parameters of a From/To/Via/Contact value (after any <URI>, whose own
    parameters belong to the URI)."""
    close = value.rfind(">")
    tail = value[close + 1 :] if close >= 0 else value
    if close < 0:
        semicolon = value.find(";")
        tail = value[semicolon:] if semicolon >= 0 else ""
    return {m.group(1).lower(): (m.group(2) or "").strip('"') for m in _PARAM.finditer(tail)}


def header_uri(value: str) -> str:
    """The URI of a name-addr (`"Name" <sip:a@b>;tag=x`) or addr-spec (`sip:a@b;tag=x`)."""
    if "<" in value:
        return value[value.index("<") + 1 : value.index(">")]
    return value.split(";")[0].strip()


def uri_host_port(uri: str, default_port: int = 5060) -> tuple[str, int]:
    """Host and port of a sip: URI (user part, parameters and headers dropped)."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    rest = rest.split(";")[0].split("?")[0]
    hostport = rest.rsplit("@", 1)[-1]
    if hostport.startswith("["):  # IPv6 reference
        host, _, tail = hostport[1:].partition("]")
        port = tail.lstrip(":")
        return host, int(port) if port.isdigit() else default_port
    host, _, port = hostport.partition(":")
    return host, int(port) if port.isdigit() else default_port


def response_to(request: SipMessage, status: int, reason: str, *, to_tag: str = "") -> SipMessage:
    """A response to a request received (RFC 3261 §8.2.6): Via, From, To, Call-ID and CSeq
    copied, a To tag added when the request had none."""
    response = SipMessage(status=status, reason=reason)
    for via in request.get_all("Via"):
        response.add("Via", via)
    response.add("From", request.get("From"))
    to = request.get("To")
    if to_tag and not request.to_tag:
        to = f"{to};tag={to_tag}"
    response.add("To", to)
    response.add("Call-ID", request.call_id)
    response.add("CSeq", request.get("CSeq"))
    return response
