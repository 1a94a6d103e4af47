"""The HTTP/1.1 protocol the server runs: uvicorn's httptools protocol, except that a request
the parser refuses (a malformed request line or header, a URL too long to parse) is answered
with a NeutronError body like every other bad request, not uvicorn's plain-text page."""
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# llhttp's URL parser keeps offsets in 16 bits: a longer URL cannot be parsed at all
MAX_URL = 65535


def _error(status: bytes, type_: str, message: str) -> bytes:
    body = orjson.dumps({"NeutronError": {"type": type_, "message": message, "detail": ""}})
    return b"".join([b"HTTP/1.1 ", status, b"\r\ncontent-type: application/json\r\n",
                     b"content-length: ", str(len(body)).encode(), b"\r\n",
                     b"connection: close\r\n\r\n", body])


class Protocol(HttpToolsProtocol):
    """uvicorn's protocol answering unparseable requests as Neutron's API answers bad input."""

    def send_400_response(self, msg: str) -> None:
        if len(getattr(self, "url", b"")) > MAX_URL:
            data = _error(b"414 Request-URI Too Long", "HTTPRequestURITooLong",
                          f"The request URL is longer than {MAX_URL} bytes; send fewer or "
                          "shorter query parameters.")
        else:
            data = _error(b"400 Bad Request", "HTTPBadRequest",
                          "Malformed HTTP request: the request line or a header could not "
                          "be parsed.")
        self.transport.write(data)
        self.transport.close()
