"""Every bound the relay enforces, in one place, with the reason for each.

The plugin talks to Dify's daemon over stdio, one JSON message per line, and the daemon kills a plugin whose
line reaches 5 MiB (``PLUGIN_RUNTIME_MAX_BUFFER_SIZE``). Everything the plugin writes (response chunks, app
calls, log lines) is therefore kept far below that, whatever a client sends.
"""

MAX_BODY_BYTES = 8 * 1024 * 1024
"""Request bodies above this are refused with 413; the daemon itself silently cuts bodies at 10 MiB."""

MAX_CHUNK_BYTES = 256 * 1024
"""Largest piece of a response body handed to the SDK; it travels hex-encoded, so twice this on the line."""

MAX_CALL_BYTES = 4 * 1024 * 1024
"""Largest app call (query, inputs...) as the SDK encodes it for the daemon; a larger one is a 413."""

MAX_INPUT_DEPTH = 32
"""How deeply input values may nest; the SDK's serializer gives up at 255 levels, Dify apps need a few."""

MAX_FORM_FIELDS = 256
"""Fields of a form body, or of a query string. Counting them is cheap; decoding a million of them is not,
and it happens before the api key of a form POST can be checked."""

MAX_URLENCODED_BYTES = 1024 * 1024
"""An urlencoded form body (or query string) above this is a 413: decoding percent-escapes costs about 0.2 s of
CPU per MiB on the one event loop every request shares; larger inputs go as JSON or multipart."""

MAX_KEY_BYTES = 4096
"""Longest api key looked for in a form body before the caller is known."""

MAX_FILE_NAME_BYTES = 255
"""Longest file name (UTF-8) sent to Dify: what common file systems allow, so no real file's name is longer. The
name travels in the SDK's ``upload_file`` line, which must stay far from 5 MiB."""

MAX_MIME_TYPE_CHARS = 127
"""Longest MIME type: RFC 6838 allows 127 characters for a type and as many for a subtype; 127 in all is plenty."""

MAX_ECHO_CHARS = 200
"""How much of a client's value an error message quotes back."""
