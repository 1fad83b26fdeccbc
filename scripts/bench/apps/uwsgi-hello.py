# The uWSGI peer's app: the same fixed hello world as the Node targets, as a WSGI callable.
BODY = b"Hello, world!\n"


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]
