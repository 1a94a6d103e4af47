"""The HTTP/1.1 protocol the server runs: uvicorn's httptools protocol, except that a request
the parser refuses (a malformed request line or header, a URL too long to parse) is answered
with a NeutronError body like every other bad request, not uvicorn's plain-text page."""
from http import HTTPStatus

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from trunkline import exceptions as exc

# llhttp's URL parser keeps offsets in 16 bits: a longer URL cannot be parsed at all
MAX_URL = 65535


class Protocol(HttpToolsProtocol):
    """uvicorn's protocol answering unparseable requests as Neutron's API answers bad input."""

    def send_400_response(self, msg: str) -> None:
        # a request refused before its first byte was parsed has no url yet
        if len(getattr(self, "url", b"")) > MAX_URL:
            err = exc.HTTPRequestURITooLong(f"The request URL is longer than {MAX_URL} bytes; "
                                            "send fewer or shorter query parameters.")
        else:
            err = exc.HTTPBadRequest("Malformed HTTP request: the request line or a header "
                                     "could not be parsed.")
        body = orjson.dumps(err.body())
        self.transport.write(b"".join([
            b"HTTP/1.1 %d %s\r\n" % (err.code, HTTPStatus(err.code).phrase.encode()),
            b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n", body]))
        self.transport.close()
