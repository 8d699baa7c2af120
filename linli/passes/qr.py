"""QR codes of pass tokens, drawn on the server as SVG (segno): no script on the page, and
the printed cards draw the same code."""

import segno


def qr_svg(token: str) -> str:
    """Returns an inline <svg> of the token's QR code at error correction level M (segno
    raises it when the version has room), with the four-module quiet zone a scanner needs;
    the page sizes it by CSS."""
    code = segno.make(token, error="m", micro=False)
    return code.svg_inline(scale=1, border=4, omitsize=True, svgclass="pass-qr", dark="#000")
