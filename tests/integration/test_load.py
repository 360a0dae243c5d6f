"""Big results and many streams at once, through the real plugin process."""

import json
from concurrent.futures import ThreadPoolExecutor

from tests.integration.apps import BIG_ANSWER_BYTES, BIG_APP, CHAT_APP

SLICE = 256 * 1024


def test_a_4_mb_blocking_result_arrives_whole_in_slices(plugin):
    for fmt in ("json", "ndjson"):
        response = plugin.request("GET", f"/chat/{BIG_APP}?query=big&format={fmt}&response_mode=blocking")
        assert response.status == 200
        chunks = list(response.chunks())
        assert len(chunks) >= BIG_ANSWER_BYTES // SLICE
        assert max(len(chunk) for chunk in chunks) <= SLICE
        result = json.loads(b"".join(chunks))
        assert len(result["answer"]) == BIG_ANSWER_BYTES
    assert plugin.alive
    assert plugin.request("GET", f"/chat/{CHAT_APP}?query=after").status == 200


def test_twenty_concurrent_streams_do_not_mix(plugin):
    def ask(number: int) -> tuple[int, list[dict]]:
        response = plugin.request("GET", f"/chat/{CHAT_APP}?query=question-{number}&user=concurrent-{number}")
        return number, response.lines()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(ask, range(20)))
    assert len(results) == 20
    for number, events in results:
        assert [event["event"] for event in events] == ["message", "message", "message", "message_end"]
        assert events[1]["answer"] == f"question-{number}"
