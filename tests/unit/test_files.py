"""File names, types and kinds as the relay sends them to Dify: bounded, and exactly what Dify reads back."""

from io import BytesIO

import pytest
import requests
from werkzeug.formparser import parse_form_data

from relay.core.errors import RelayError
from relay.core.files import Remote, Upload, bounded, check_files, dify_type, file_type
from relay.core.parameters import InputField

HUGE = "x" * (6 * 1024 * 1024)


def refusal(upload: Upload) -> str:
    with pytest.raises(RelayError) as refused:
        bounded(upload)
    assert (refused.value.status, refused.value.code) == (400, "invalid_request")
    return refused.value.message


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("notes.txt", "notes.txt"),
        ("C:\\Users\\me\\notes.txt", "notes.txt"),
        ("/etc/../reports/q1.csv", "q1.csv"),
        ("  spaced name.md  ", "spaced name.md"),
        ("dir/" + "é" * 126 + ".md", "é" * 126 + ".md"),  # 129 characters, 255 bytes: the most a name may have
    ],
)
def test_a_name_keeps_only_its_last_part(name, kept):
    assert bounded(Upload(name, b"x", "text/plain")).filename == kept


def test_names_over_255_bytes_or_with_control_characters_are_refused():
    assert "at most 255 bytes" in refusal(Upload("é" * 128, b"x", "text/plain"))  # 128 characters, 256 bytes
    assert bounded(Upload("a" * 255, b"x", "text/plain")).filename == "a" * 255
    assert "control characters" in refusal(Upload("bad\nname.txt", b"x", "text/plain"))
    assert "control characters" in refusal(Upload("bad\x00name.txt", b"x", "text/plain"))
    assert "has no name" in refusal(Upload("folder/", b"x", "text/plain"))
    assert len(refusal(Upload(HUGE, b"x", "text/plain"))) < 400


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("text/plain", "text/plain"),
        ("Text/Plain; charset=utf-8", "text/plain"),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", None),
        ("", "text/csv"),  # guessed from the name
    ],
)
def test_types_are_dify_s_mimetype_and_a_missing_one_is_guessed(sent, kept):
    expected = kept or sent
    assert bounded(Upload("table.csv", b"x", sent)).mimetype == expected


@pytest.mark.parametrize("sent", ["image/" + "x" * 200, "not a type", "image", "image/*", "text/plain/extra"])
def test_types_that_are_not_mime_types_are_refused(sent):
    assert "must be a MIME type (type/subtype, at most 127 characters)" in refusal(Upload("a.png", b"x", sent))


def as_dify_reads_it(upload: Upload) -> tuple[str, str]:
    """The name and type Dify checks the signature against: the part the SDK posts (``requests``), as werkzeug
    parses it."""
    prepared = requests.Request("POST", "http://dify/", files={"file": (upload.filename, b"x", upload.mimetype)})
    body = prepared.prepare()
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": body.headers["Content-Type"],
        "CONTENT_LENGTH": str(len(body.body)),
        "wsgi.input": BytesIO(body.body),
    }
    part = parse_form_data(environ)[2]["file"]
    return part.filename, part.mimetype


@pytest.mark.parametrize(
    ("name", "mimetype"),
    [
        ("notes.txt", "text/plain"),
        ('say "hi".txt', "text/plain"),
        ("100%22 sure.txt", "text/plain"),
        ("semi;colon, comma.csv", "text/csv"),
        ("C:\\Users\\me\\résumé 😀.pdf", "application/pdf"),
        ("a=b&c.json", "Application/JSON; charset=utf-8"),
        ("x" * 255, ""),
    ],
)
def test_what_is_signed_is_what_dify_reads_back(name, mimetype):
    upload = bounded(Upload(name, b"x", mimetype))
    assert as_dify_reads_it(upload) == (upload.filename, upload.mimetype)


def test_a_file_without_a_guessable_type_is_octet_stream():
    assert bounded(Upload("blob", b"x", "")).mimetype == "application/octet-stream"


def test_a_remote_file_is_left_as_it_is():
    remote = Remote("https://files.example/a.md", "")
    assert bounded(remote) is remote


def test_the_type_sent_is_the_kind_the_input_allows_else_custom():
    custom_only = InputField("sources", "file-list", "Sources", file_types=("custom",), file_extensions=(".md",))
    documents = InputField(
        "attachment", "file", "Attachment", file_types=("document", "custom"), file_extensions=(".md",)
    )
    anything = InputField("any", "file", "Any")
    link = Remote("https://files.example/notes.md")
    assert dify_type(custom_only, link) == "custom"
    assert dify_type(documents, link) == "document"
    assert dify_type(anything, link) == "document"
    assert dify_type(custom_only, Upload("notes.md", b"x", "text/markdown")) == "custom"
    assert dify_type(documents, Upload("photo.png", b"x", "image/png")) == "custom"


@pytest.mark.parametrize(
    ("name", "mimetype", "kind"),
    [
        ("photo.PNG", "application/octet-stream", "image"),
        ("talk.m4a", "", "audio"),
        ("clip.mov", "", "video"),
        ("notes.md", "text/markdown", "document"),
        ("report.pdf", "", "document"),
        ("setup.exe", "application/octet-stream", "custom"),
        ("archive.tar.gz", "application/gzip", "custom"),
        ("https://img.example/a.webp?size=2", "", "image"),
        ("https://files.example/no-extension", "image/png", "image"),
        ("https://files.example/no-extension", "application/zip", "custom"),
    ],
)
def test_a_files_type_is_the_one_difys_extension_lists_give_it(name, mimetype, kind):
    assert file_type(mimetype, name) == kind


def test_an_exe_is_no_document_and_is_refused_before_any_upload():
    documents = InputField("attachment", "file", "Attachment", file_types=("document",))
    with pytest.raises(RelayError) as refused:
        check_files(documents, [Upload("setup.exe", b"MZ", "application/octet-stream")])
    assert refused.value.status == 400 and "custom" in refused.value.message
    by_extension = InputField("binary", "file", "Binary", file_types=("custom",), file_extensions=(".exe",))
    check_files(by_extension, [Upload("setup.exe", b"MZ", "application/octet-stream")])
