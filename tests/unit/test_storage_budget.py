"""Everything the plugin may keep in Dify's plugin storage, together, fits the manifest's quota: conversation notes,
kept Responses, OAuth grants and the two signing secrets. Each store bounds itself; this adds them up."""

from relay.core import conversations
from relay.oauth import grants
from relay.openai_responses import kept
from tests import declarations

SECRETS = 2 * 64
"""``ar2:files-secret`` and ``ar2:oauth-secret``: 64 hex characters each."""


def test_every_store_together_fits_the_manifests_storage_quota():
    quota = declarations.manifest()["resource"]["permission"]["storage"]["size"]
    total = conversations.MAX_SHARED_BYTES + kept.MAX_KEPT_BYTES + grants.MAX_STORED_BYTES + SECRETS
    assert total <= quota, f"{total:,} bytes may be stored, the quota is {quota:,}"
